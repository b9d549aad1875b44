"""requirements/lock.txt pins every dependency pyproject.toml names, inside its range.

`./dev` installs the lock file on a fresh machine, so a dependency added to
pyproject.toml without its pin would be resolved afresh there (or not at all).
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("requirement", _declared(), ids=str)
def test_every_dependency_is_pinned_inside_its_range(requirement: Requirement) -> None:
    pins = _pins()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is missing from requirements/lock.txt"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"lock.txt pins {requirement.name}=={pins[name]}, outside {requirement.specifier}"
    )


def test_lock_file_is_sorted_and_has_each_package_once() -> None:
    lines = [
        line
        for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == sorted(lines, key=str.lower)
    names = [canonicalize_name(line.partition("==")[0]) for line in lines]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "package",
    [
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-grpc",
        "opentelemetry-instrumentation-grpc",
        "opentelemetry-instrumentation-sqlalchemy",
        "prometheus-client",
    ],
)
def test_observability_packages_installed_at_their_pins(package: str) -> None:
    assert metadata.version(package) == _pins()[canonicalize_name(package)]
