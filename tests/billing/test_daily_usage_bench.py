"""The daily-usage benchmark runs end to end at a tiny size (the real size is a
benchmark argument, not a test): it loads PostgreSQL, reads cold and cached, reports."""

from __future__ import annotations

import contextvars

import pytest

from bench import daily_usage_read


@pytest.mark.postgres
def test_the_benchmark_reports_cold_and_cached_reads(capsys: pytest.CaptureFixture[str]) -> None:
    # The benchmark binds a call for its direct servicer calls, as its own process would:
    # run it in a context of its own so the binding does not outlive it in this thread.
    argv = ["--customers", "20", "--days", "30", "--samples", "5"]
    assert contextvars.copy_context().run(daily_usage_read.main, argv) == 0
    out = capsys.readouterr().out
    assert "ListDailyUsage, 30 days, 20 customers in PostgreSQL" in out
    for read in ("cold server-side", "cold gRPC", "cached"):
        assert read in out
