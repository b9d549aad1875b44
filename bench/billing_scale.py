"""Billing reads at scale: `python -m bench.billing_scale [--customers N] [--samples K]`.

Generates two fresh PostgreSQL databases with the billing schema (the service's own
migrations): a small one (1,000 customers) and a large one (1,000,000 by default), each
customer with 24 months of usage and bills and a balance, loaded with COPY. Then it
serves each with the real billing servicer and measures, for customers picked at random,
ListMonthlyUsage, ListBills (24 months each) and GetBalance:

- in-process: the servicer method called the way the gRPC runtime calls it (principal
  bound, request in, response message out) — the server-side time, database included;
- over gRPC on loopback: the same calls through a real server, client-measured.

It prints p50 and p95 for both sizes side by side and whether the large database stays
under the 5 ms server-side p50 target. Readings and ledger entries are not generated:
these three reads do not touch them.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import psycopg

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import billing_service_pb2_grpc, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing.bill_resources import static_bill
from servers.billing.bills import lines_json
from servers.billing.charging import PricedVersion, charge_month
from servers.billing.config import BillingConfig
from servers.billing.months import Month
from servers.billing.service import BillingServicer, make_spec
from servers.billing.tariff_catalog import TARIFF_DIR, read_tariff_file
from servers.runtime import (
    CHINA_STANDARD_TIME,
    SYSTEM_CLOCK,
    CallInfo,
    Settings,
    build_server,
    load_signer,
)
from servers.runtime.calls import bind_call

SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGET_MS = 5.0
FIRST_ID = 3_100_000_000
MONTHS = 24
TARIFF = "residential-tiered"


# -- data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthTemplate:
    """What every bill of one month shares."""

    month: str
    first_day: str
    last_day: str
    issue_time: str
    due_date: str


def _templates(now: datetime) -> list[MonthTemplate]:
    last = Month.of(now).previous()
    result = []
    for k in range(MONTHS - 1, -1, -1):
        month = last.plus(-k)
        issued = datetime.combine(
            month.next().first_day, datetime.min.time(), CHINA_STANDARD_TIME
        ) + timedelta(hours=9)
        result.append(
            MonthTemplate(
                str(month),
                month.first_day.isoformat(),
                month.last_day.isoformat(),
                issued.astimezone(UTC).isoformat(),
                (issued.date() + timedelta(days=15)).isoformat(),
            )
        )
    return result


def _charges(versions: Sequence[PricedVersion], month: Month) -> dict[int, tuple[int, str]]:
    """Charge and lines of every whole-kWh energy the generator uses (50–499 kWh)."""
    table = {}
    for kwh in range(50, 500):
        charge = charge_month(month, versions, kwh * 1000)
        table[kwh] = (charge.amount_fen, lines_json(charge.lines))
    return table


def _renderings(
    templates: Sequence[MonthTemplate], charges: dict[int, tuple[int, str]], version: str
) -> dict[tuple[int, int], bytes]:
    """The rendered fixed part of a bill (servers.billing.bill_resources) for each month
    and energy, without the per-customer fields: serialized messages concatenate into
    their merge, so a bill's rendering is its own small part + this."""
    result = {}
    for k, t in enumerate(templates):
        for kwh, (amount, lines) in charges.items():
            row = SimpleNamespace(
                customer_id="",
                month=t.month,
                period_start_date=date.fromisoformat(t.first_day),
                period_end_date=date.fromisoformat(t.last_day),
                energy_wh=kwh * 1000,
                amount_fen=amount,
                lines=lines,
                tariff_version=version,
                opening_reading_wh=0,
                closing_reading_wh=0,
                reading_quality="ACTUAL",
                issue_time=datetime.fromisoformat(t.issue_time),
                due_date=date.fromisoformat(t.due_date),
                revision=0,
            )
            message = static_bill(row)
            message.ClearField("name")
            result[(k, kwh)] = message.SerializeToString()
    return result


def _energy_kwh(n: int, k: int) -> int:
    """A deterministic monthly energy for customer n in month k, 50–499 kWh."""
    return 50 + (n * 2_654_435_761 + k * 40_503 + (n * k) % 97) % 450


def copy_rows(cursor: psycopg.Cursor[Any], table: str, columns: str, rows: Iterator[str]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        size = 0
        for row in rows:
            buffer.write(row)
            size += 1
            if size == 20_000:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
                size = 0
        copy.write(buffer.getvalue())


def drop_keys(cursor: psycopg.Cursor[Any], table: str) -> list[str]:
    """Drop the table's primary key and other indexes; returns the statements that
    recreate them. Tables others reference by foreign key keep their primary key."""
    referenced = cursor.execute(
        "SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass",
        (table,),
    ).fetchone()
    restore: list[str] = []
    if referenced is None:
        for name, definition in cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
            (table,),
        ).fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT x.indisunique",
        (table,),
    ).fetchall():
        cursor.execute(f'DROP INDEX "{name}"')
        restore.append(definition)
    return restore


CUSTOMER_COLUMNS = (
    "id, holder_name, holder_id_number, registered_phone, address, supply_office, "
    "area_code, tariff, billing_mode, large_household, state, debit_bank, "
    "debit_account, open_date, source_update_time, create_time, update_time"
)


def customer_lines(customers: int, stamp: str) -> Iterator[str]:
    """COPY lines of customers 1 … `customers` (CUSTOMER_COLUMNS), offices as the demo's."""
    for n in range(1, customers + 1):
        office = "QJ-QL" if (n - 1) % 10 < 5 else "QJ-ZY"
        yield (
            f"{FIRST_ID + n}\t用户{n}\t\t138{n % 10_000_000:08d}\t曲靖市麒麟区{n}号\t{office}\t"
            f"A{(n - 1) % 10 + 1:02d}\t{TARIFF}\tPOSTPAID\tf\tACTIVE\t\t\t\\N\t"
            f"{stamp}\t{stamp}\t{stamp}\n"
        )


Table = tuple[str, str, Callable[[], Iterator[str]]]


def load_tables(url: str, tables: Sequence[Table], log: Callable[[str], None]) -> None:
    """COPY each (table, columns, lines) into `url`, keys built after each load."""
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for table, columns, rows in tables:
            started = time.perf_counter()
            # Keys and indexes are built once after the load (a sort) rather than row by
            # row during it; they are recreated exactly as the migrations made them.
            restore = drop_keys(cursor, table)
            copy_rows(cursor, table, columns, rows())
            loaded = time.perf_counter()
            for statement in restore:
                cursor.execute(statement)
            log(
                f"  {table}: copy {loaded - started:.1f} s, "
                f"keys {time.perf_counter() - loaded:.1f} s"
            )
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        log(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")


def generate(url: str, customers: int, now: datetime, log: Callable[[str], None]) -> None:
    """Load `customers` customers with 24 months of usage and bills into `url`."""
    file = read_tariff_file(TARIFF_DIR / f"{TARIFF}.toml")
    versions = [
        PricedVersion(f"tariffs/{TARIFF}/versions/{v.id}", v.effective_date, v.schedule)
        for v in file.versions
    ]
    templates = _templates(now)
    charges = _charges(versions, Month.parse(templates[0].month))
    version = versions[-1].name
    renderings = _renderings(templates, charges, version)
    stamp = now.isoformat()
    ids = range(1, customers + 1)

    def customer_rows() -> Iterator[str]:
        return customer_lines(customers, stamp)

    def balance_rows() -> Iterator[str]:
        for n in ids:
            yield f"{FIRST_ID + n}\t{50_000 + n % 50 * 1000}\t{stamp}\n"

    def usage_rows() -> Iterator[str]:
        for n in ids:
            cid = FIRST_ID + n
            for k, t in enumerate(templates):
                kwh = _energy_kwh(n, k)
                yield (
                    f"{cid}\t{t.month}\t{kwh * 1000}\t{charges[kwh][0]}\tACTUAL\t"
                    f"\\N\t\\N\t\\N\t\\N\tt\t{stamp}\n"
                )

    def bill_rows() -> Iterator[str]:
        for n in ids:
            cid = FIRST_ID + n
            register = n % 20_000 * 1000
            for k, t in enumerate(templates):
                kwh = _energy_kwh(n, k)
                amount, lines = charges[kwh]
                closing = register + kwh * 1000
                own = resources_pb2.Bill(
                    name=f"customers/{cid}/bills/{t.month}",
                    opening_reading_wh=register,
                    closing_reading_wh=closing,
                ).SerializeToString()
                rendering = (own + renderings[(k, kwh)]).hex()
                yield (
                    f"{cid}\t{t.month}\t{t.first_day}\t{t.last_day}\t{kwh * 1000}\t{amount}\t"
                    f"{lines}\t{version}\t{register}\t{closing}\tACTUAL\tPAID\t{t.issue_time}\t"
                    f"{t.due_date}\t0\t\\N\t{amount}\t{t.issue_time}\t0\t\\\\x{rendering}\n"
                )
                register = closing

    tables = [
        ("billing_customer", CUSTOMER_COLUMNS, customer_rows),
        ("billing_balance", "customer_id, net_fen, update_time", balance_rows),
        (
            "billing_monthly_usage",
            "customer_id, month, energy_wh, charge_fen, reading_quality, sharp_wh, peak_wh, "
            "flat_wh, valley_wh, complete, update_time",
            usage_rows,
        ),
        (
            "billing_bill",
            "customer_id, month, period_start_date, period_end_date, energy_wh, amount_fen, "
            "lines, tariff_version, opening_reading_wh, closing_reading_wh, reading_quality, "
            "state, issue_time, due_date, late_fee_fen, late_fee_through, paid_fen, paid_time, "
            "revision, resource",
            bill_rows,
        ),
    ]
    load_tables(url, tables, log)


# -- measurement ----------------------------------------------------------------------


def staff_everywhere() -> identity_pb2.Principal:
    """A staff member of every office: the scope check that needs the database."""
    return identity_pb2.Principal(
        user="users/bench",
        username="bench",
        kind=identity_pb2.PRINCIPAL_KIND_STAFF,
        permissions=["billing.*"],
        all_supply_offices=True,
    )


CALLS: dict[str, Callable[[str], tuple[str, Any]]] = {
    "monthlyUsage": lambda c: (
        "ListMonthlyUsage",
        service_pb2.ListMonthlyUsageRequest(parent=f"customers/{c}"),
    ),
    "bills": lambda c: ("ListBills", service_pb2.ListBillsRequest(parent=f"customers/{c}")),
    "balance": lambda c: (
        "GetBalance",
        service_pb2.GetBalanceRequest(name=f"customers/{c}/balance"),
    ),
}


@dataclass
class Figures:
    in_process: dict[str, list[float]]
    grpc: dict[str, list[float]]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Target:
    """One served database: its servicer (in-process) and a stub (gRPC)."""

    customers: int
    servicer: BillingServicer
    stub: billing_service_pb2_grpc.BillingServiceStub
    close: Callable[[], None]


def serve(url: str, customers: int, data_dir: Path) -> tuple[Target, Any]:
    """Start the billing service on `url`; returns the target and the signer."""
    settings = Settings(
        data_dir=data_dir,
        grpc_security="plaintext",
        billing_database_url=url,
        log_level="WARNING",
        db_pool_size=4,
    )
    config = BillingConfig(demo_data=False)
    server, port, runtime = build_server(make_spec(config), settings, address="127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")

    def close() -> None:
        channel.close()
        server.stop(0)
        runtime.close()

    target = Target(
        customers,
        BillingServicer(runtime, config, SYSTEM_CLOCK),
        billing_service_pb2_grpc.BillingServiceStub(channel),
        close,
    )
    return target, load_signer(settings.identity_dir, settings.identity_key_id)


def measure(targets: Sequence[Target], signer: Any, samples: int) -> dict[int, Figures]:
    """Time the three reads on `samples` random customers of each target, in-process
    and over gRPC, alternating between targets so machine noise hits them alike."""
    principal = staff_everywhere()
    rng = random.Random(42)
    figures = {
        t.customers: Figures({n: [] for n in CALLS}, {n: [] for n in CALLS}) for t in targets
    }
    bind_call(CallInfo(request_id="bench", method="bench", principal=principal))
    for round_ in range(samples + 100):
        warm = round_ < 100
        # Assertions live 60 s; a fresh one per round (signed outside the timed calls).
        metadata = [signer.metadata(principal, audience="billing")]
        for target in targets:
            customer = str(FIRST_ID + rng.randint(1, target.customers))
            for name, make in CALLS.items():
                method, request = make(customer)
                started = time.perf_counter()
                getattr(target.servicer, method)(request, None)
                elapsed = (time.perf_counter() - started) * 1000
                if not warm:
                    figures[target.customers].in_process[name].append(elapsed)
                started = time.perf_counter()
                getattr(target.stub, method)(request, metadata=metadata)
                elapsed = (time.perf_counter() - started) * 1000
                if not warm:
                    figures[target.customers].grpc[name].append(elapsed)
    return figures


# -- the run --------------------------------------------------------------------------


def fresh_database(name: str, reuse: bool) -> tuple[str, bool]:
    """(url, whether it already holds data) of database `name` on the local server,
    made empty — or, with `reuse`, as an earlier `--keep` run left it."""
    url = f"{SERVER}/{name}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reuse:
            return url, True
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url, False


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def customers_database(name: str, customers: int) -> Iterator[str]:
    """The URL of a new billing database `name` holding `customers` customers with their
    24 months, dropped when the block ends."""
    from servers.runtime.migrations import migrate

    url, _ = fresh_database(name, reuse=False)
    try:
        migrate("billing", url)
        generate(url, customers, datetime.now(UTC), lambda _line: None)
        yield url
    finally:
        drop_database(name)


def _size_of(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return str(row.fetchone()[0])  # type: ignore[index]


def run(
    sizes: Sequence[int], samples: int, keep: bool, reuse: bool, log: Callable[[str], None]
) -> dict[int, Figures]:
    from servers.runtime.migrations import migrate

    now = datetime.now(UTC)
    databases: list[tuple[str, str, int]] = []
    targets: list[Target] = []
    signer: Any = None
    try:
        with tempfile.TemporaryDirectory(prefix="palmgrid-bench-") as data_dir:
            for customers in sizes:
                name = f"palmgrid_bench_billing_{customers}"
                url, ready = fresh_database(name, reuse)
                databases.append((name, url, customers))
                if ready:
                    log(f"{customers:,} customers: reusing {name} ({_size_of(url)})")
                    continue
                log(f"{customers:,} customers × {MONTHS} months → {name}")
                started = time.perf_counter()
                migrate("billing", url)
                generate(url, customers, now, log)
                log(f"  loaded in {time.perf_counter() - started:.0f} s ({_size_of(url)})")
            for _, url, customers in databases:
                target, signer = serve(url, customers, Path(data_dir))
                targets.append(target)
            log(f"measuring {samples:,} calls per read and size")
            return measure(targets, signer, samples)
    finally:
        for target in targets:
            target.close()
        for name, url, _ in databases:
            if keep:
                log(f"kept {url}")
            else:
                drop_database(name)


def report(results: dict[int, Figures]) -> bool:
    """Print the table; True when the largest size meets the target."""
    sizes = sorted(results)
    print()
    print("billing reads, one customer per call (ms); server-side = in-process servicer call")
    header = f"{'read':<14}" + "".join(f"{f'{n:,} p50':>14}{f'{n:,} p95':>14}" for n in sizes)
    for kind in ("in_process", "grpc"):
        print(f"\n{'server-side' if kind == 'in_process' else 'gRPC loopback'}")
        print(header)
        for name in CALLS:
            cells = []
            for n in sizes:
                values = getattr(results[n], kind)[name]
                cells.append(f"{statistics.median(values):>14.2f}{percentile(values, 0.95):>14.2f}")
            print(f"{name:<14}" + "".join(cells))
    largest = results[sizes[-1]].in_process
    ok = all(statistics.median(v) < TARGET_MS for v in largest.values())
    print(
        f"\n{sizes[-1]:,} customers, server-side p50 < {TARGET_MS} ms for every read: "
        f"{'yes' if ok else 'NO'}"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_scale", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000, help="large size")
    parser.add_argument("--small", type=int, default=1_000, help="small size")
    parser.add_argument("--samples", type=int, default=2_000, help="calls per read and size")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--reuse", action="store_true", help="use databases kept by an earlier --keep run"
    )
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = run(
        [args.small, args.customers], args.samples, args.keep or args.reuse, args.reuse, log
    )
    return 0 if report(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
