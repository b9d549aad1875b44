"""Unary calls/s of the outage service on the synchronous gRPC server and on the grpc.aio
server it now runs on (`ServiceSpec.async_streams`), with the same pipeline, the same
16 threads, the same SQLite database and demo outages. Each server is its own process,
so the client does not share its interpreter; the client keeps `--concurrency` calls of
GetOutage (public, one primary-key read) in flight for `--seconds` after a warm-up.

    python -m bench outage-servers [--seconds 5] [--concurrency 16]
    python -m bench.outage_servers serve sync|aio DATA_DIR   # one server, prints its port
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import grpc.aio

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_service_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
OUTAGE = "outages/demo-planned-1"


def serve(mode: str, data_dir: Path) -> int:
    """Run the outage service (demo data, plaintext) on a free port until killed."""
    from servers.outage.config import OutageConfig
    from servers.outage.service import make_spec
    from servers.runtime import Settings, build_server

    spec = make_spec(config=OutageConfig(demo_data=True))
    spec = dataclasses.replace(spec, async_streams=mode == "aio")
    settings = Settings(
        profile="dev", data_dir=data_dir, grpc_security="plaintext", log_level="ERROR"
    )
    server, port, runtime = build_server(spec, settings, address="127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    finally:
        runtime.close()
    return 0


async def _drive(target: str, seconds: float, concurrency: int) -> int:
    """Calls completed in `seconds` with `concurrency` in flight, after a 1 s warm-up."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = outage_service_pb2_grpc.OutageServiceStub(channel)
        request = outage_pb.GetOutageRequest(name=OUTAGE)
        await stub.GetOutage(request, timeout=10)  # fails loudly if the server is wrong
        counting = False
        done = 0
        stop_at = time.monotonic() + 1 + seconds

        async def caller() -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                await stub.GetOutage(request, timeout=10)
                if counting:
                    done += 1

        callers = [asyncio.ensure_future(caller()) for _ in range(concurrency)]
        await asyncio.sleep(1)
        counting = True
        await asyncio.gather(*callers)
        return done


def measure(mode: str, seconds: float, concurrency: int) -> float:
    """Calls/s of GetOutage on a fresh server of `mode`."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "generated")]))
    with tempfile.TemporaryDirectory(prefix=f"bench-outage-{mode}-") as data_dir:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.outage_servers", "serve", mode, data_dir],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            calls = asyncio.run(_drive(f"127.0.0.1:{port}", seconds, concurrency))
        finally:
            process.kill()
            process.wait()
    return calls / seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench outage-servers", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args, rest = parser.parse_known_args(argv)
    if rest[:1] == ["serve"]:
        return serve(rest[1], Path(rest[2]))
    sync = measure("sync", args.seconds, args.concurrency)
    aio = measure("aio", args.seconds, args.concurrency)
    print(f"outage GetOutage, {args.concurrency} in flight, {args.seconds:g} s each")
    print(f"  synchronous server    {sync:8.0f} calls/s")
    print(f"  grpc.aio + 16 threads {aio:8.0f} calls/s")
    print(f"  aio / sync            {aio / sync:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
