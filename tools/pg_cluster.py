"""A PostgreSQL server of its own for a fault test: stopped, started and restarted at will.

The machine's shared server (127.0.0.1:5432) serves every other test, so a test that
takes the database away starts a private one with Debian's binaries (`initdb`, `pg_ctl`)
in a temporary directory on a free port, with trust authentication on loopback only. As
root, the binaries run as the `postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.memcached import wait_for_port
from tools.ports import free_port


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed here."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise ClusterUnavailable("PostgreSQL server binaries missing: apt-get install postgresql")
    return Path(found[-1]).parent


class PrivateCluster:
    """A PostgreSQL server on 127.0.0.1:`port` whose data lives in a temporary directory."""

    def __init__(self) -> None:
        self._bin = _bin_dir()
        self.port = free_port()
        # Under /tmp (world-traversable), since the server may run as another user.
        self.directory = Path(tempfile.mkdtemp(prefix="palmgrid-pg-", dir="/tmp"))
        self._data = self.directory / "data"
        self._log = self.directory / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self._data), "-l", str(self._log), "-o", options, "-w", "start"
        )
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, connections dropped."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.database_url(name)

    def close(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self._bin / program), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}")
