"""Server-log tracebacks keep where a failure happened, never the values a message quotes."""

from __future__ import annotations

import logging

import polars as pl
import pytest

from policies.errors import redacted_traceback

MARKER = "MARKER-7731-张伟"


def _polars_failure() -> BaseException:
    frame = pl.DataFrame({"income": ["12", MARKER]})
    try:
        frame.select(pl.col("income").cast(pl.Int64, strict=True))
    except pl.exceptions.PolarsError as err:
        return err
    raise AssertionError("polars accepted a non-number")


def test_redacted_traceback_when_polars_quotes_a_cell_then_no_value_and_type_kept():
    err = _polars_failure()
    assert MARKER in str(err)  # the reason this function exists
    text = redacted_traceback(err)
    assert MARKER not in text
    assert type(err).__qualname__ in text and "_polars_failure" in text


def test_redacted_traceback_when_chained_then_every_cause_kept_without_message():
    cause = _polars_failure()
    try:
        raise RuntimeError(f"wrapped {MARKER}") from cause
    except RuntimeError as err:
        text = redacted_traceback(err)
    assert MARKER not in text
    assert text.index(type(cause).__qualname__) < text.index("RuntimeError")


@pytest.mark.parametrize(
    "module",
    [
        "sandbox.jobs.execute",
        "jobs.runner",
        "sandbox.web.app",
        "sandbox.web.api.errors",
        "sandbox.web.hardening",
    ],
)
def test_log_sites_when_a_job_crashes_then_no_logger_attaches_exc_info(module: str):
    # exc_info makes logging print the message, which may quote data; every site logs the
    # redacted traceback instead (the hook greps new code; this pins the three busiest sites)
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert "exc_info=" not in source and "log.exception(" not in source


def test_redacted_traceback_when_logged_then_record_holds_no_value(
    caplog: pytest.LogCaptureFixture,
):
    log = logging.getLogger("sandbox.test")
    with caplog.at_level(logging.ERROR):
        log.error("job %s crashed\n%s", 1, redacted_traceback(_polars_failure()))
    assert MARKER not in caplog.text
