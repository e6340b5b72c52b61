"""The console's screenshots when there is no browser to take them (no server, no Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.web.console.screenshots import capture


def test_capture_when_chromium_missing_then_no_files_and_a_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    shots = capture("http://127.0.0.1:9", "sbx_x", tmp_path, executable_path="/nonexistent")
    assert shots == []
    assert "Chromium is missing at /nonexistent" in caplog.text


def test_capture_admin_when_chromium_missing_then_no_files_and_a_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    from sandbox.web.console.screenshots import capture_admin

    shots = capture_admin(
        "http://127.0.0.1:9", "sbx_a", "sbx_s", tmp_path, executable_path="/nonexistent"
    )
    assert shots == [] and not list(tmp_path.iterdir())
    assert "Chromium is missing at /nonexistent" in caplog.text
