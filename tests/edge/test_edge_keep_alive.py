"""An idle keep-alive connection to the edge outlives the clients' own idle limits, so it
is the client that ends it, never the edge while a request is on its way."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from tests.edge.served_app import served

CLIENT_IDLE_SECONDS = 5.5  # past httpx's 5 s pool expiry and uvicorn's default


async def no_content(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_an_idle_connection_still_answers_after_the_clients_idle_limit() -> None:
    async def two_requests_apart() -> list[bytes]:
        async with served(no_content) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            answers = []
            for pause in (0.0, CLIENT_IDLE_SECONDS):
                await asyncio.sleep(pause)
                writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                answers.append(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5))
            writer.close()
            return answers

    answers = uvloop.run(two_requests_apart())
    assert [answer.split(b"\r\n")[0] for answer in answers] == [b"HTTP/1.1 204 No Content"] * 2
