"""Bill day: a mix of balance, usage, bills and payments at rising load until the edge
saturates, with payments checked exactly once. `python -m bench billday [--users N]
[--steps 1,2,4,8] [--seconds S]`.

The whole system runs as deployed, each service, the worker and the edge a process of
its own (`./dev up` on free ports), billing on a fresh PostgreSQL database. N app users
register, sign in and bind a demo customer each with the code the SMS sandbox received.
Then, at each step, one wrk per route runs at once for S seconds with that many
connections (the offered load doubles each step): it prints each route's requests/s,
p50 and p99 and non-2xx answers, the total, and the CPU each process used (the busiest
is the bottleneck). Logins are timed on their own first: each costs an Argon2 hash, so
they are bounded by the account service's CPU, not by the edge.

Payments are paced to stay inside the per-user limit (a phone pays once, not in a
loop). Exactly once: every payment request carries its own `requestId`; at the end,
billing must hold one payment per request id, as many as the orders the provider
sandbox received, and as many as the 200 answers (plus at most one per connection whose
answer was still in flight when its step ended).
"""

from __future__ import annotations

import argparse
import math
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.devup_process import RunningDevup, start_devup
from bench.load import _parse as parse_wrk
from bench.load import cpu_seconds
from clients.edge_client import EdgeClient

SERVER = "postgresql://postgres@127.0.0.1:5432"
CAPTCHA = "BILLDAY"
PASSWORD = "Tide-pool-88!"
FIRST_CUSTOMER = 3_100_000_000
ROUTES = ("balance", "monthlyUsage", "bills", "payments")


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- users --------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    username: str
    token: str
    customer: str


def _codes(gateway: str) -> list[str]:
    received = httpx.get(f"{gateway}/sandbox/messages", timeout=5).json()["received"]
    return [
        found.group(1)
        for entry in received
        if entry["channel"] == "sms" and (found := re.search(r"验证码(\d+)", entry["text"]))
    ]


def make_users(running: RunningDevup, count: int) -> tuple[list[User], list[float]]:
    """`count` users, each bound to its own demo customer; and each login's seconds."""
    users, logins = [], []
    ca = running.settings.data_dir / "tls" / "ca.pem"
    for n in range(1, count + 1):
        customer = str(FIRST_CUSTOMER + n)
        username = "billday" + "".join(chr(ord("a") + (n // 26**i) % 26) for i in range(3))
        with EdgeClient(
            running.edge_url, ca_file=ca, headers={"X-Forwarded-For": f"10.9.0.{n}"}
        ) as client:
            client.register(username, PASSWORD, captcha_answer=CAPTCHA)
            started = time.perf_counter()
            token = client.login(username, PASSWORD, captcha_answer=CAPTCHA)["token"]
            logins.append(time.perf_counter() - started)
            seen = len(_codes(running.sms_gateway_url))
            client.send_binding_code(customer, captcha_answer=CAPTCHA)
            deadline = time.monotonic() + 30
            while len(codes := _codes(running.sms_gateway_url)) == seen:
                if time.monotonic() > deadline:
                    raise RuntimeError("no binding code reached the SMS sandbox")
                time.sleep(0.2)
            client.bind_customer(customer, codes[-1])
        users.append(User(username, token, customer))
    return users, logins


# -- load -----------------------------------------------------------------------------


def script(route: str, users: Sequence[User], connections: int) -> str:
    """A wrk script: requests of `route` spread over the users, each with its own token
    and address (as the load balancer would forward it). Payment requests each carry a
    request id no other uses, and are paced to stay inside the per-user limit of 10 a
    minute (a phone pays once, not in a loop), so each is expected to succeed."""
    pairs = ",".join(
        f'{{"{u.token}","{u.customer}","10.9.{n // 256}.{n % 256}"}}'
        for n, u in enumerate(users, 1)
    )
    # Each connection pays once every `pay_delay_ms`: at most 60 % of the users' limits.
    pay_delay_ms = math.ceil(connections * 1000 / (len(users) * 10 / 60 * 0.6))
    seed = secrets.randbelow(1 << 30)  # request ids of one run never repeat another's
    if route == "payments":
        request = f"""
  n = n + 1
  local request_id = string.format("%08x-%04x-4%03x-a%03x-%012x",
    math.random(0, 0x7fffffff), id, n % 4096, math.random(0, 4095), math.random(0, 0x7fffffff))
  local body = '{{"amountFen":"100","channel":"PAYMENT_CHANNEL_WECHAT_PAY","requestId":"'
    .. request_id .. '"}}'
  return wrk.format("POST", "/v1/customers/" .. u[2] .. "/payments",
    {{["Authorization"] = "Bearer " .. u[1], ["Content-Type"] = "application/json",
      ["X-Forwarded-For"] = u[3]}}, body)
end
delay = function()
  return {pay_delay_ms}"""
    else:
        request = f"""
  return wrk.format("GET", "/v1/customers/" .. u[2] .. "/{route}",
    {{["Authorization"] = "Bearer " .. u[1], ["X-Forwarded-For"] = u[3]}})"""
    return f"""
local users = {{{pairs}}}
local threads = {{}}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
init = function(args) n = 0; ok = 0; refused = {{}}; math.randomseed({seed} + id) end
response = function(status, headers, body)
  if status == 200 then ok = ok + 1 else
    local reason = string.match(body, '"reason":"([A-Z_]+)"') or ""
    local key = status .. " " .. reason
    refused[key] = (refused[key] or 0) + 1
  end
end
request = function()
  local u = users[math.random(#users)]{request}
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("ok")
    for key, count in pairs(thread:get("refused")) do
      io.write("refused ", key, " ", count, "\\n")
    end
  end
  io.write("ok ", total, "\\n")
end
"""


@dataclass(frozen=True)
class RouteFigures:
    route: str
    requests: int
    ok: int
    rps: float
    p50_ms: float
    p99_ms: float


def run_step(url: str, users: Sequence[User], connections: int, seconds: int) -> list[RouteFigures]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found; install it with `apt-get install wrk`")
    running = []
    with tempfile.TemporaryDirectory() as folder:
        for route in ROUTES:
            path = Path(folder) / f"{route}.lua"
            path.write_text(script(route, users, connections))
            argv = [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(path),
                url,
            ]
            running.append((route, subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)))
        figures = []
        for route, process in running:
            out, _ = process.communicate()
            result = parse_wrk(out)
            ok = int(re.search(r"^ok (\d+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
            for refusal in re.findall(r"^refused (.+)$", out, re.MULTILINE):
                log(f"  {route}: refused {refusal}")
            figures.append(
                RouteFigures(route, result.requests, ok, result.rps, result.p50_ms, result.p99_ms)
            )
    return figures


# -- the processes' CPU ---------------------------------------------------------------


def children(pid: int) -> dict[str, int]:
    """Process name (its module) → pid, for the processes `./dev up` started."""
    found = {}
    listed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for child in listed.split():
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        words = [w.decode() for w in argv if w]
        python = "python" in Path(words[0]).name and "-m" in words
        module = words[words.index("-m") + 1] if python else Path(words[0]).name
        found[module.removeprefix("servers.")] = int(child)
    return found


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    result = {}
    for name, pid in pids.items():
        try:
            result[name] = cpu_seconds(pid)
        except FileNotFoundError:
            continue
    return result


# -- exactly once -----------------------------------------------------------------------


def payments_held(database_url: str, since: datetime) -> tuple[int, int]:
    """Payments made in billing's database since `since` (not the demo's), and how many
    distinct request ids they carry."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT request_id) FROM payment WHERE create_time >= %s",
            (since,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def provider_orders(running: RunningDevup) -> int:
    orders = httpx.get(f"{running.payment_provider_url}/sandbox/orders", timeout=10).json()
    return len(orders["orders"])


# -- the run ------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> bool:
    name = f"palmgrid_bench_billday_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{SERVER}/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix="palmgrid-billday-"))
    running: RunningDevup | None = None
    try:
        running = start_devup(
            data_dir,
            PALMGRID_DEV_CAPTCHA=CAPTCHA,
            PALMGRID_BILLING_DATABASE_URL=database_url,
            # Only the customers the users bind are read: the demo's 1,000 would only
            # lengthen the start.
            PALMGRID_BILLING_DEMO_CUSTOMERS=str(max(args.users, 20)),
            PALMGRID_LOG_LEVEL="WARNING",
            # wrk stands in for the phones behind a load balancer on loopback.
            PALMGRID_EDGE_TRUSTED_PROXIES="127.0.0.1/32",
        )
        log(f"PalmGrid up at {running.edge_url}; billing on {name}")
        users, logins = make_users(running, args.users)
        login = statistics.median(logins)
        print(
            f"\nlogins, one at a time: {len(logins)}, median {login * 1000:.0f} ms "
            f"(one Argon2 hash each: {1 / login:.1f}/s per account process)"
        )
        pids = children(running.process.pid)
        load_started = datetime.now(UTC)
        payment_ok = 0
        header = f"{'route':<13}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        print(f"\n{'conn/route':>10} {header}")
        for connections in args.steps:
            before = cpu_by_process(pids)
            started = time.monotonic()
            figures = run_step(running.edge_url, users, connections, args.seconds)
            wall = time.monotonic() - started
            after = cpu_by_process(pids)
            for f in figures:
                print(
                    f"{connections:>10} {f.route:<13}{f.rps:>9.0f}{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}"
                    f"{f.requests - f.ok:>9}"
                )
                if f.route == "payments":
                    payment_ok += f.ok
            total = sum(f.rps for f in figures)
            errors = sum(f.requests - f.ok for f in figures)
            share = sum(f.requests for f in figures) or 1
            usage = {n: (after[n] - before.get(n, 0.0)) / wall for n in after}
            busiest = sorted(usage.items(), key=lambda item: -item[1])[:4]
            print(
                f"{connections:>10} {'total':<13}{total:>9.0f}   error rate {errors / share:.2%}; "
                "CPU (cores): " + ", ".join(f"{n} {c:.2f}" for n, c in busiest)
            )
        time.sleep(2)  # the last confirmations land
        held, distinct = payments_held(database_url, load_started)
        orders = provider_orders(running)
        # wrk drops the answers still in flight when a step ends (one per connection at
        # most): those payments exist without a counted 200.
        in_flight = sum(args.steps)
        exact = held == distinct == orders and payment_ok <= held <= payment_ok + in_flight
        print(
            f"\npayments: {payment_ok} answered 200 (at most {in_flight} more in flight when "
            f"a step ended); billing holds {held} with {distinct} distinct request ids; the "
            f"provider received {orders} orders: {'exactly once' if exact else 'MISMATCH'}"
        )
        return exact
    finally:
        if running is not None:
            running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench billday", description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--steps", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16]
    )
    parser.add_argument("--seconds", type=int, default=5)
    return 0 if run(parser.parse_args(argv)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
