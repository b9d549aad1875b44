"""Structured logs: JSON lines, request id inside calls, secrets never written."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from servers.runtime.calls import CallInfo, bind_call
from servers.runtime.logs import REDACTED, configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    return logging.getLogger("palmgrid.test"), stream


def test_records_are_json_lines_with_extra_fields() -> None:
    logger, stream = _capture()
    logger.info("bill issued", extra={"customer": "customers/3100000001", "amount_fen": 1234})
    record = json.loads(stream.getvalue())
    assert record["message"] == "bill issued"
    assert record["level"] == "INFO"
    assert record["time"].endswith("+00:00")
    assert (record["customer"], record["amount_fen"]) == ("customers/3100000001", 1234)


def test_secrets_are_redacted() -> None:
    logger, stream = _capture()
    logger.warning("login failed", extra={"password": "hunter2", "session_token": "abc"})
    record = json.loads(stream.getvalue())
    assert record["password"] == record["session_token"] == REDACTED
    assert "hunter2" not in stream.getvalue()


def test_records_inside_a_call_carry_its_request_id() -> None:
    logger, stream = _capture()

    def inside() -> None:
        bind_call(CallInfo(request_id="req-7", method="/x.v1.X/Y"))
        logger.info("working")

    contextvars.copy_context().run(inside)
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["request_id"], first["method"]) == ("req-7", "/x.v1.X/Y")
    assert "request_id" not in second
