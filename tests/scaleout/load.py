"""A bounded load of phone requests through the load balancer: readers asking for their
customer's balance and bills without pause, payers paying a small amount every few
seconds (each payment retried with its request id until it is answered), every
request counted, with its latency, in the phase during which it was sent."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError

PAYMENT_FEN = 100
PAYMENT_ATTEMPTS = 8


@dataclass
class Tally:
    """What one phase saw."""

    name: str
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    payments: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.errors)

    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def line(self) -> str:
        seconds = (self.ended or time.monotonic()) - self.started
        return (
            f"{self.name:<32} {seconds:>5.1f} s  requests {self.requests:>6}"
            f"  errors {len(self.errors):>3}  p99 {self.p99_ms():>7.1f} ms"
            f"  payment calls {self.payments:>3}"
        )


@dataclass
class Payment:
    """One payment as the payer saw it: answered (its name), or failed cleanly (the
    final 4xx), or not answered at all (never acceptable)."""

    customer: str
    request_id: str
    name: str = ""
    refused: str = ""
    attempts: int = 0


class Load:
    """Readers and payers over `clients` (each an EdgeClient signed in, with the
    customer it is bound to); `phase(name)` starts counting into a new tally."""

    def __init__(
        self, readers: list[tuple[EdgeClient, str]], payers: list[tuple[EdgeClient, str]]
    ) -> None:
        self.readers = readers
        self.payers = payers
        self.tallies: list[Tally] = [Tally("warm-up")]
        self.payments: list[Payment] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def tally(self) -> Tally:
        return self.tallies[-1]

    def phase(self, name: str) -> Tally:
        with self._lock:
            self.tallies[-1].ended = time.monotonic()
            self.tallies.append(Tally(name))
        return self.tallies[-1]

    def start(self, pay_every: float) -> None:
        for client, customer in self.readers:
            self._spawn(self._read, client, customer)
        for n, (client, customer) in enumerate(self.payers):
            self._spawn(self._pay, client, customer, pay_every, n * pay_every / len(self.payers))

    def stop(self) -> None:
        self.tallies[-1].ended = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _record(self, started: float, error: str | None, *, payment: bool = False) -> None:
        with self._lock:
            tally = self.tally
            if error is None:
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.errors.append(error)
            if payment:
                tally.payments += 1

    def _read(self, client: EdgeClient, customer: str) -> None:
        paths = [f"/v1/customers/{customer}/balance", f"/v1/customers/{customer}/bills"]
        n = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            path = paths[n % len(paths)]
            n += 1
            try:
                client.send("GET", path)
            except EdgeApiError as error:
                self._record(started, f"GET {path}: {error.status} {error.reason}")
            except httpx.HTTPError as error:
                self._record(started, f"GET {path}: {type(error).__name__}")
            else:
                self._record(started, None)

    def _pay(self, client: EdgeClient, customer: str, every: float, offset: float) -> None:
        if self._stop.wait(offset):
            return
        while not self._stop.is_set():
            payment = Payment(customer, str(uuid.uuid4()))
            self.payments.append(payment)
            self._pay_once(client, payment)
            self._stop.wait(every)

    def _pay_once(self, client: EdgeClient, payment: Payment) -> None:
        """Pay, retrying with the same request id while no answer says what happened
        (a 5xx, a lost connection): billing moves the money at most once per id."""
        for attempt in range(1, PAYMENT_ATTEMPTS + 1):
            payment.attempts = attempt
            started = time.perf_counter()
            try:
                answer = client.pay(
                    payment.customer,
                    PAYMENT_FEN,
                    "PAYMENT_CHANNEL_WECHAT_PAY",
                    request_id=payment.request_id,
                )
            except EdgeApiError as error:
                self._record(started, f"POST payment: {error.status} {error.reason}", payment=True)
                if error.status < 500 and error.reason != "REQUEST_IN_PROGRESS":
                    payment.refused = f"{error.status} {error.reason}"
                    return
            except httpx.HTTPError as error:
                self._record(started, f"POST payment: {type(error).__name__}", payment=True)
            else:
                self._record(started, None, payment=True)
                payment.name = answer["name"]
                return
            time.sleep(0.5)
