"""Log lines: JSON one object a line, job events without values, quiet access logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies.airlock import JobStatus
from sandbox.jobs.lifecycle import transition
from sandbox.service.logs import QuietAccess, configure
from sandbox.settings import Settings
from sandbox.store.db import Database
from tests.factories import seed_grant, seed_job

ACCESS = '%s - "%s %s HTTP/%s" %d'


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure() changes process-wide loggers: put them back after each test."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [
        (lg, list(lg.handlers), list(lg.filters), lg.level, lg.propagate)
        for lg in (logging.getLogger(n) for n in names)
    ]
    yield
    for lg, handlers, filters, level, propagate in saved:
        lg.handlers[:], lg.filters[:] = handlers, filters
        lg.setLevel(level)
        lg.propagate = propagate


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/s.db", audit_key=b"k" * 32)
    database.migrate()
    seed_grant(database)
    yield database
    database.dispose()


def run(db: Database, kind: str, end: JobStatus, error: str | None = None) -> int:
    """A job of ``kind`` submitted, started and ended through :func:`transition`."""
    with db.session() as session:
        job = seed_job(session, 1, kind, "queued", spec={"kind": kind, "where": "name = 'Zhang'"})
        transition(db, session, job, JobStatus.RUNNING, actor="system", action="job.run")
        transition(db, session, job, end, actor="system", action="job.end", error=error)
        return int(job.id)


def test_configure_when_json_then_one_object_a_line_with_extra_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(Settings(log_format="json"))
    logging.getLogger("sandbox.x").warning("hello %s", "there", extra={"event": "e", "job_id": 7})
    [line] = json_lines(capsys.readouterr().err)
    assert line["level"] == "WARNING"
    assert line["logger"] == "sandbox.x"
    assert line["message"] == "hello there"
    assert (line["event"], line["job_id"]) == ("e", 7)
    assert line["time"].endswith("+00:00")


def test_configure_when_text_then_plain_lines_and_called_twice_no_doubles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(Settings(log_format="text"))
    configure(Settings(log_format="text"))
    logging.getLogger("sandbox.x").info("plain")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("INFO sandbox.x plain")


def test_transition_when_a_timed_job_fails_then_events_carry_states_and_no_value(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(Settings(log_format="json"))
    job_id = run(db, "aggregate", JobStatus.FAILED, error="the value 4711 broke it")
    output = capsys.readouterr().err
    events = [e for e in json_lines(output) if e.get("event") == "job.transition"]
    assert [(e["job_id"], e["kind"], e["from"], e["state"]) for e in events] == [
        (job_id, "aggregate", "queued", "running"),
        (job_id, "aggregate", "running", "failed"),
    ]
    assert "duration_s" not in events[0]
    assert isinstance(events[1]["duration_s"], float)
    for value in ("4711", "Zhang", "where"):  # neither the error nor the spec
        assert value not in output


def test_transition_when_an_untimed_job_ends_then_no_duration(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(Settings(log_format="json"))
    run(db, "custom", JobStatus.AWAITING_REVIEW)
    events = [e for e in json_lines(capsys.readouterr().err) if e.get("event")]
    assert [e["state"] for e in events] == ["running", "awaiting_review"]
    assert not [e for e in events if "duration_s" in e]


@pytest.mark.parametrize(
    ("method", "path", "kept"),
    [
        ("GET", "/healthz", False),
        ("GET", "/readyz", False),
        ("GET", "/metrics", False),
        ("GET", "/metrics?x=1", False),
        ("GET", "/v1/jobs/12", False),
        ("GET", "/v1/jobs/12?wait=1", False),
        ("GET", "/v1/jobs/12/output", True),
        ("GET", "/v1/jobs", True),
        ("POST", "/v1/jobs", True),
        ("DELETE", "/v1/jobs/12", True),
        ("GET", "/console/queue", True),
    ],
)
def test_quiet_access_when_polled_then_dropped_else_kept(
    method: str, path: str, kept: bool
) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        ACCESS,
        ("10.0.0.1:5", method, path, "1.1", 200),
        None,
    )
    assert QuietAccess().filter(record) is kept


def test_configure_when_uvicorn_logs_access_then_polls_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(Settings(log_format="json"))
    access = logging.getLogger("uvicorn.access")
    access.info(ACCESS, "10.0.0.1:5", "GET", "/v1/jobs/3", "1.1", 200)
    access.info(ACCESS, "10.0.0.1:5", "GET", "/healthz", "1.1", 200)
    access.info(ACCESS, "10.0.0.1:5", "POST", "/v1/jobs", "1.1", 201)
    lines = json_lines(capsys.readouterr().err)
    assert [line["message"] for line in lines] == ['10.0.0.1:5 - "POST /v1/jobs HTTP/1.1" 201']
