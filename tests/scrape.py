"""Reading a Prometheus endpoint in tests: one GET, the samples by name and labels."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, **client: Any) -> Samples:
    """Every sample at `url` (status 200 required)."""
    reply = httpx.get(url, timeout=10, **client)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with exactly these labels, 0 when absent (a counter not yet moved)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
