"""wrk runs with Lua scripts for bench.edge_cache: which customers each request asks
for, and what the `X-Cache` header of each answer said."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from bench.billing_scale import FIRST_ID
from bench.load import LoadResult
from bench.load import _parse as parse_wrk

ZIPF_S = 1.1


COUNTING = """
-- wrk runs request/response in each thread's Lua state and done in the main one:
-- threads keep their own counts, done gathers them.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) counts = {} end
response = function(status, headers, body)
  local source = headers["x-cache"] or headers["X-Cache"] or ("status-" .. status)
  if status >= 400 then source = "status-" .. status end
  counts[source] = (counts[source] or 0) + 1
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for source, count in pairs(thread:get("counts")) do
      io.write("x-cache ", source, " ", count, "\\n")
    end
  end
end
"""
_MONTHLY_USAGE = (
    COUNTING
    + """
request = function()
  return wrk.format("GET", "/v1/customers/" .. pick() .. "/monthlyUsage",
                    {["Authorization"] = "Bearer " .. token})
end
"""
)


def sequential_script(token: str, first: int, count: int) -> str:
    """Customers first … first+count-1 in turn (a fresh one per request while cold)."""
    return (
        f"""
token = "{token}"
local i = 0
function pick()
  i = i + 1
  return {FIRST_ID} + {first} + ((i - 1) % {count})
end
"""
        + _MONTHLY_USAGE
    )


def paths_script(paths: list[str]) -> str:
    """Anonymous GETs of `paths` in turn."""
    listed = ", ".join(f'"{p}"' for p in paths)
    return (
        COUNTING
        + f"""
local paths = {{{listed}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end
"""
    )


def zipf_script(token: str, customers: int, seed: int) -> str:
    """Customers drawn by Zipf(s) over `customers`, rank k scattered over the range so
    that hot customers are not neighbours."""
    return (
        f"""
token = "{token}"
local n, s = {customers}, {ZIPF_S}
local cdf, total = {{}}, 0
for k = 1, n do total = total + k ^ (-s); cdf[k] = total end
for k = 1, n do cdf[k] = cdf[k] / total end
math.randomseed({seed})
function pick()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return {FIRST_ID} + 1 + (lo * 7919) % n
end
"""
        + _MONTHLY_USAGE
    )


class PendingLoad:
    """A wrk run (one thread, on CPU 1, with a Lua script) under way."""

    def __init__(self, url: str, script: str, seconds: float, connections: int) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise RuntimeError("wrk not found; install it with `apt-get install wrk`")
        cpus = {1} if (os.cpu_count() or 1) >= 2 else None
        # Kept open while wrk runs (it reads the file at start); closed by result().
        self._script = tempfile.NamedTemporaryFile("w", suffix=".lua")  # noqa: SIM115
        self._script.write(script)
        self._script.flush()
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
        self._proc = subprocess.Popen(
            [*argv, "-s", self._script.name, url],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    def result(self) -> tuple[LoadResult, str]:
        """Wait for the run: its result and wrk's output."""
        out, _ = self._proc.communicate()
        self._script.close()
        if self._proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({self._proc.returncode}):\n{out}")
        return parse_wrk(out), out


def load(url: str, script: str, seconds: float, connections: int) -> tuple[LoadResult, str]:
    """Run wrk (one thread, on CPU 1) with a Lua script; the result and wrk's output."""
    return PendingLoad(url, script, seconds, connections).result()


def cache_answers(out: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in out.splitlines():
        if line.startswith("x-cache "):
            _, source, count = line.split()
            counts[source] = counts.get(source, 0) + int(count)
    return counts
