"""Adapters for the SMS and push gateways, over HTTP (httpx).

The protocol (the sandbox in `servers.notification.sandbox` speaks it):

    POST {sms_gateway_url}/v1/sms    {"phone": "13800000042", "text": "…"}
    POST {push_gateway_url}/v1/push  {"tokens": ["…"], "title": "…", "text": "…"}
    Idempotency-Key: <the delivery's send key, a UUID>

    200 {"messageId": "…", "duplicate": false}   accepted (duplicate: the key was seen
                                                  before; acknowledged, not sent again)
    4xx {"code": "…", "message": "…"}            refused for good (408 and 429 excepted)
    5xx, 408, 429, timeouts, no connection       a temporary failure: try again later

Every attempt of one delivery carries the same key, so a sender that crashed after the
gateway took a message, or whose answer was lost, resends without the customer getting
it twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from servers.notification.outcomes import SendResult

SMS_PATH = "/v1/sms"
PUSH_PATH = "/v1/push"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Client errors that say "later", not "never".
_TRANSIENT_4XX = {408, 425, 429}


class HttpGateway:
    """One gateway endpoint (`base_url` + `path`)."""

    def __init__(self, client: httpx.Client, base_url: str, path: str) -> None:
        self._client = client
        self.url = base_url.rstrip("/") + path

    def send(self, key: str, payload: dict[str, Any], timeout: float) -> SendResult:
        """POST `payload` with idempotency key `key`; never raises for the gateway's
        sake: every failure is a FAILED or REJECTED result."""
        try:
            response = self._client.post(
                self.url, json=payload, headers={IDEMPOTENCY_HEADER: key}, timeout=timeout
            )
        except httpx.TimeoutException:
            return SendResult("FAILED", error=f"gateway timed out after {timeout:g}s")
        except httpx.HTTPError as exc:
            return SendResult("FAILED", error=f"gateway unreachable: {type(exc).__name__}")
        document = _json(response)
        if response.status_code == 200:
            return SendResult(
                "ACCEPTED",
                receipt=str(document.get("messageId", ""))[:128],
                duplicate=bool(document.get("duplicate", False)),
            )
        error = (
            f"HTTP {response.status_code} {document.get('code', '')} {document.get('message', '')}"
        )
        permanent = 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_4XX
        return SendResult("REJECTED" if permanent else "FAILED", error=error.strip()[:500])


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


class Gateways:
    """The SMS and push gateways, sharing one connection pool."""

    def __init__(self, sms_url: str, push_url: str) -> None:
        self._client = httpx.Client()
        self.sms = HttpGateway(self._client, sms_url, SMS_PATH)
        self.push = HttpGateway(self._client, push_url, PUSH_PATH)

    def close(self) -> None:
        self._client.close()
