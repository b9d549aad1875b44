"""tools.ports: processes side by side pick ports from slices of their own."""

from __future__ import annotations

import pytest

from tools import ports


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_slice_hands_out_ports_only_from_its_part_of_the_range(
    monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    monkeypatch.setenv("PALMGRID_PORT_SLICE", f"{index}/3")
    low, high = ports._slice(10_000, 31_000)
    assert (low, high) == (10_000 + 7_000 * index, 17_000 + 7_000 * index)
    picked = {ports.free_port() for _ in range(50)}
    everything_low, everything_high = ports._LOWEST, ports._ephemeral_start()
    width = (everything_high - everything_low) // 3
    start = everything_low + index * width
    assert all(start <= port < start + width for port in picked), sorted(picked)


def test_without_a_slice_the_whole_range_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALMGRID_PORT_SLICE", raising=False)
    assert ports._slice(10_000, 32_768) == (10_000, 32_768)


@pytest.mark.parametrize("text", ["4/4", "0/0", "2", "abc", "-1/4", ""])
def test_a_slice_that_is_not_one_says_so(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("PALMGRID_PORT_SLICE", text)
    with pytest.raises(ValueError, match="PALMGRID_PORT_SLICE"):
        ports.free_port()
