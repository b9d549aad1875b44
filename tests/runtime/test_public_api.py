"""`servers.runtime.__all__` is the public surface: complete and importable."""

from __future__ import annotations

import types

import servers.runtime as runtime


def test_all_names_exist() -> None:
    missing = [name for name in runtime.__all__ if not hasattr(runtime, name)]
    assert missing == []


def test_every_public_name_is_listed() -> None:
    public = {
        name
        for name, value in vars(runtime).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(runtime.__all__)
