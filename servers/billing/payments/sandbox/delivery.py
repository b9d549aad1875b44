"""How the sandbox provider delivers callbacks, and its timer for delayed work.

A callback goes to the `notify_url` the merchant gave with the order:
- `http://…` / `https://…`: an HTTP POST, as a real provider does (in production the
  edge route `POST /v1/paymentNotifications/{provider}`);
- `grpc://host:port/{provider}` / `grpcs://…`: billing's NotifyPayment called directly
  (dev and tests, when no edge is in front), with the raw body as `google.api.HttpBody`
  and the signature headers as lower-case gRPC metadata, exactly as the edge forwards
  them. Both end in the same verification code in billing.
A delivery succeeds on HTTP 2xx or gRPC OK; anything else is retried later.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
from google.api import httpbody_pb2

from palmgrid.billing.v1 import billing_service_pb2, billing_service_pb2_grpc
from palmlib.balancing import channel_target

log = logging.getLogger("palmgrid.payments.sandbox")

DELIVERY_TIMEOUT_SECONDS = 5.0


class Timer:
    """Runs functions after a delay on a small thread pool; `stop` drops what is left."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox")
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sandbox-timer", daemon=True)
        self._thread.start()

    def after(self, delay: float, job: Callable[[], None]) -> None:
        """Run `job` on the pool in `delay` seconds."""
        with self._wake:
            if self._stopped:
                return
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), job))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._wake.notify()
        self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._queue)
            self._pool.submit(self._guarded, job)

    @staticmethod
    def _guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("sandbox job failed")


class CallbackTransport:
    """Sends one callback attempt to a notify URL; returns whether it was acknowledged."""

    def __init__(
        self,
        *,
        grpc_credentials: grpc.ChannelCredentials | None = None,
        https_ca_file: Path | None = None,
    ) -> None:
        self._grpc_credentials = grpc_credentials
        self._http = httpx.Client(
            timeout=DELIVERY_TIMEOUT_SECONDS,
            verify=str(https_ca_file) if https_ca_file else True,
        )
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        parts = urlsplit(url)
        try:
            if parts.scheme in ("grpc", "grpcs"):
                return self._send_grpc(parts.scheme, parts.netloc, parts.path, body, headers)
            if parts.scheme in ("http", "https"):
                reply = self._http.post(
                    url, content=body, headers={**headers, "Content-Type": "application/json"}
                )
                return 200 <= reply.status_code < 300
        except (httpx.HTTPError, grpc.RpcError) as exc:
            log.info("callback not delivered", extra={"url": url, "error": str(exc)})
            return False
        log.warning("callback URL scheme not supported", extra={"url": url})
        return False

    def _send_grpc(
        self, scheme: str, target: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> bool:
        stub = billing_service_pb2_grpc.BillingServiceStub(self._channel(scheme, target))
        request = billing_service_pb2.NotifyPaymentRequest(
            provider=path.strip("/") or "wechatpay",
            body=httpbody_pb2.HttpBody(content_type="application/json", data=body),
        )
        metadata = tuple((name.lower(), value) for name, value in headers.items())
        stub.NotifyPayment(request, metadata=metadata, timeout=DELIVERY_TIMEOUT_SECONDS)
        return True

    def _channel(self, scheme: str, target: str) -> grpc.Channel:
        key = f"{scheme}://{target}"
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                # The callback URL may name every billing replica (palmlib.balancing).
                address, options = channel_target(target)
                if scheme == "grpcs":
                    if self._grpc_credentials is None:
                        raise ValueError("grpcs:// callbacks need channel credentials")
                    channel = grpc.secure_channel(address, self._grpc_credentials, options)
                else:
                    channel = grpc.insecure_channel(address, options)
                self._channels[key] = channel
            return channel

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
        self._http.close()
