"""Schemathesis against a running PalmGrid edge, over HTTPS, from its own `/openapi.json`.

Each caller (anonymous, a customer with a bound demo customer, a staff member) gets a
run of the `schemathesis` command of its own, with a fixed seed and a bounded number of
examples per operation, so a failure reproduces with the command it prints. The checks:
no 5xx, every response matching its documented schema and content type, and data the
schema forbids refused with a 4xx.

    python -m tests.e2e.api_fuzz --examples 200 --seed 2026   # the long run (nox fuzz_api)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clients.edge_client import EdgeClient
from tests.e2e.binding_codes import bind
from tests.e2e.system import CAPTCHA, PASSWORD, STAFF_PASSWORD, System, start_system

SEED = 2026
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "negative_data_rejection",
)
ROLES = ("anonymous", "customer", "staff")
# The customer's own demo customer, and the staff member (all supply offices).
CUSTOMER = "3100000001"
STAFF_USER = "admin"
# The long run also walks every schema's boundary values (coverage); the suite's run
# only fuzzes.
LONG_PHASES = "examples,coverage,fuzzing"
SUITE_PHASES = "fuzzing"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@dataclass(frozen=True)
class Outcome:
    role: str
    command: list[str]
    returncode: int
    output: str


def caller_token(system: System, role: str, address: str) -> str | None:
    """A bearer token for `role`, logged in over the edge from `address`."""
    if role == "anonymous":
        return None
    client = EdgeClient(system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": address})
    try:
        if role == "staff":
            client.login(STAFF_USER, STAFF_PASSWORD, captcha_answer=CAPTCHA)
        else:
            username = "fuzzcustomer"
            client.register(username, PASSWORD, captcha_answer=CAPTCHA)
            client.login(username, PASSWORD, captcha_answer=CAPTCHA, send_public_key=False)
            bind(system, client, CUSTOMER)
        assert client.token is not None
        return client.token
    finally:
        client.close()


def command(
    system: System,
    token: str | None,
    address: str,
    examples: int,
    seed: int,
    phases: str,
    workers: int = 1,
) -> list[str]:
    args = [
        str(SCHEMATHESIS),
        "run",
        f"{system.url}/openapi.json",
        "--tls-verify",
        str(system.ca_file),
        "--seed",
        str(seed),
        "--max-examples",
        str(examples),
        "--checks",
        ",".join(CHECKS),
        "--phases",
        phases,
        "--workers",
        str(workers),
        "--no-shrink",
        # No example database on disk: each run stands alone, as its seed says.
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
        "-H",
        f"X-Forwarded-For: {address}",
        # Streams never end: they are checked by their own tests.
        "--exclude-path-regex",
        ":watch$",
    ]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    return args


def run_role(
    system: System,
    role: str,
    *,
    examples: int,
    seed: int,
    phases: str = LONG_PHASES,
    workers: int = 1,
) -> Outcome:
    # Each caller from an address of its own: one's rate-limit counters are not another's.
    address = f"10.250.{ROLES.index(role)}.1"
    token = caller_token(system, role, address)
    args = command(system, token, address, examples, seed, phases, workers)
    print(
        f"schemathesis as {role}: seed {seed}, {examples} examples per operation ({phases})",
        flush=True,
    )
    # Run where it may leave its cache (.schemathesis/): the system's data directory.
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, cwd=system.data_dir)
    return Outcome(role, args, done.returncode, done.stdout + done.stderr)


@contextmanager
def running_system() -> Iterator[System]:
    with tempfile.TemporaryDirectory(prefix="palmgrid-fuzz-") as directory:
        system = start_system(Path(directory))
        try:
            yield system
        finally:
            system.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--role", choices=ROLES, action="append")
    parser.add_argument("--phases", default=LONG_PHASES)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    failed = False
    with running_system() as system:
        for role in options.role or ROLES:
            outcome = run_role(
                system,
                role,
                examples=options.examples,
                seed=options.seed,
                phases=options.phases,
                workers=options.workers,
            )
            print(outcome.output)
            failed |= outcome.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
