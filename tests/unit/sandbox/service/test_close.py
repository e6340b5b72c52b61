"""Closing the service stops a Ray runner it made, after the drain, and no runner it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.runner import RayRunner
from sandbox.service import Sandbox
from sandbox.settings import Settings


def test_close_when_the_runner_is_its_own_then_stopped_after_the_drain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    monkeypatch.setattr(RayRunner, "stop", lambda self: steps.append("runner stopped"))
    sandbox = Sandbox(Settings(data_dir=tmp_path / "data", workers=0, untimed_workers=0))
    drain = sandbox.jobs.drain
    monkeypatch.setattr(
        sandbox.jobs, "drain", lambda grace: (steps.append("drained"), drain(grace))
    )
    sandbox.start()
    sandbox.close()
    assert steps == ["drained", "runner stopped"]


def test_close_when_the_runner_was_given_then_left_to_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        RayRunner, "stop", lambda self: pytest.fail("stopped a runner it was given")
    )
    given = RayRunner()  # the caller's: tests share one Ray for the session
    sandbox = Sandbox(
        Settings(data_dir=tmp_path / "data", workers=0, untimed_workers=0), runner=given
    )
    sandbox.start()
    sandbox.close()
    assert sandbox.runner is given
