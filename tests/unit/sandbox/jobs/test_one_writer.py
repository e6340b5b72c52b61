"""Only :func:`sandbox.jobs.lifecycle.transition` assigns ``Job.status`` (issue 14, point 3).

A grep over the packages' source: an assignment to ``.status``, a ``Job(...)`` built
with a status, or a bulk update of the status column, anywhere but the lifecycle
module, bypasses the state machine, the run's timestamps and the audit entry.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
WRITER = ROOT / "sandbox" / "jobs" / "lifecycle.py"
#: ``x.status = ...``, ``x.status, y = ...``, ``x.status += ...`` (not ``==``).
_ASSIGNS = re.compile(r"\.status\s*(?:,[^=\n]*)?\+?=(?!=)")
#: ``Job(..., status=...)`` over several lines, and ``.values(status=...)`` on jobs.
_BUILDS = re.compile(r"(?<![\w\"'])Job\((?:[^()]|\([^()]*\))*\bstatus\s*=", re.S)
_BULK = re.compile(
    r"update\(\s*Job\b[^\n]*\n?[^\n]*\.values\([^)]*\bstatus\s*=|\{\s*Job\.status\s*:"
)


def _offenders(source: str) -> list[str]:
    found = [m.group(0) for m in _ASSIGNS.finditer(source)]
    found += [m.group(0)[-40:] for m in _BUILDS.finditer(source)]
    found += [m.group(0) for m in _BULK.finditer(source)]
    return found


def test_job_status_when_grepped_then_only_the_lifecycle_assigns_it() -> None:
    offenders = {
        str(path.relative_to(ROOT)): hits
        for package in ("sandbox", "jobs", "policies")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != WRITER and "migrations" not in path.parts
        if (hits := _offenders(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "call sandbox.jobs.lifecycle.transition(...) instead"
    assert _offenders(WRITER.read_text(encoding="utf-8")), "the lifecycle writes the status"


def test_offenders_when_each_form_then_seen_and_reads_are_not() -> None:
    writes = [
        "job.status = JobStatus.FAILED",
        "job.status, job.error = 'failed', message",
        "job.status += 'x'",
        "Job(\n    grant_id=1,\n    spec=dict(a=1),\n    status=JobStatus.QUEUED,\n)",
        "session.execute(update(Job).where(Job.id == 1).values(status='x'))",
        "session.query(Job).update({Job.status: 'x'})",
    ]
    reads = [
        "if job.status == JobStatus.RUNNING.value:",
        "audit.append(db, session, 'a', 'b', status=job.status)",
        "x = job.status",
        "Job(grant_id=1, spec={})",
        'return f"Job(id={self.id}, status={self.status})"',  # a repr of the client's job
    ]
    assert all(_offenders(w) for w in writes)
    assert not any(_offenders(r) for r in reads)
