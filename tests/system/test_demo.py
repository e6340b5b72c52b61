"""End to end through the client against a real HTTP server: the demo flow.

One run (it starts Ray) checks both the released table and what the demo prints:
its lines, normalized, equal ``demo_output_baseline.txt`` (``make demo``'s output
before the redesign of issue 14). Rerun with ``SANDBOX_REGENERATE_GOLDEN=1`` to
rewrite the baseline after an intended change, and review the diff.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import polars as pl
import pytest

from sandbox.cli.demo import run
from sandbox.cli.demo_data import JIANGSU_CITIES
from sandbox.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BASELINE = Path(__file__).with_name("demo_output_baseline.txt")
REGENERATE = os.environ.get("SANDBOX_REGENERATE_GOLDEN") == "1"
#: ``make demo``'s rows (``sandbox demo``'s default): the baseline's run.
ROWS = 5000

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: A tqdm progress bar's frame: ``job 1:  67%|██████▋   | 2/3 [00:00<00:00, 10.07step/s, running]``.
_TQDM = re.compile(r"job \d+:\s+\d+%\|[^|\n]*\|[^\]\n]*\]")
#: Ray's own lines: its workers' forwarded output and its start-up notice.
_NOISE = re.compile(r"^\s*(\(.*pid=\d+.*\)|Token authentication is enabled)")
#: What changes from run to run: the port, the folders, hashes, the data (Chinese values,
#: digits) and the width of the table rules.
_VARYING = (
    (re.compile(r"https?://[^\s;,]+"), "<url>"),
    (re.compile(r"(?<![\w.:/])/(?:[^\s/]+/)+"), "<dir>/"),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b"), "<hex>"),
    (re.compile(r"[\u3400-\u9fff]+"), "<zh>"),
    (re.compile(r"\d+"), "#"),
    (re.compile(r"([─═━])\1+"), r"\1"),
)


def normalize(text: str) -> str:
    """The demo's output without what varies between runs, one line per printed line.

    >>> normalize("job 1:  50%|█    | 1/2 [00:01<00:01, 1.0step/s]job 1: done\\n")
    'job #: done\\n'
    >>> normalize("service at http://127.0.0.1:60517; folder /tmp/x/demo/a.png\\n")
    'service at <url>; folder <dir>/a.png\\n'
    >>> normalize("│ 南京市   ┆ 567       ┆\\n┌──────────┬───┐\\n")
    '│ <zh> ┆ # ┆\\n┌─┬─┐\\n'
    """
    lines = []
    for line in _TQDM.sub("", _ANSI.sub("", text)).splitlines():
        if _NOISE.match(line):
            continue
        for pattern, replacement in _VARYING:
            line = pattern.sub(replacement, line)
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return "\n".join(lines) + "\n"


def test_demo_when_run_then_operator_receives_the_released_table_and_output_is_unchanged(
    tmp_path: Path, ray_runner, capsys: pytest.CaptureFixture[str], monkeypatch
):
    # Wide enough that rich folds no long path (the baseline's 80 columns folded none).
    monkeypatch.setenv("COLUMNS", "1000")
    table = run(rows=ROWS, settings=Settings(data_dir=tmp_path))
    printed = normalize(capsys.readouterr().out)

    assert table.columns == [
        "city",
        "residents",
        "residents_ci_low",
        "residents_ci_high",
        "mean_income",
        "mean_income_ci_low",
        "mean_income_ci_high",
        "suppressed",
    ]
    assert table["city"].to_list() == list(JIANGSU_CITIES)  # every declared key, in order
    shown = table.filter(pl.col("residents").is_not_null())
    assert shown.height >= 10  # few if any cities suppressed at 5,000 residents
    assert (shown["residents"] >= 10).all()
    assert (shown["residents_ci_low"] <= shown["residents"]).all()
    assert table["residents"].sum() == pytest.approx(ROWS, rel=0.1)
    # nothing of the raw data is in the released product's folder
    released = list((tmp_path / "demo" / "releases").iterdir())
    assert sorted(p.suffix for p in released) == [".parquet", ".parquet"]  # aggregate, extract
    shots = sorted(p.name for p in (tmp_path / "demo" / "screenshots").iterdir())
    assert shots == [
        "console-admin-orgs.png",
        "console-admin-tokens.png",
        "console-admin-users.png",
        "console-audit.png",
        "console-catalog.png",
        "console-datasets-confirm.png",
        "console-datasets-new.png",
        "console-grants.png",
        "console-output.png",
        "console-queue.png",
    ]

    if REGENERATE:
        BASELINE.write_text(printed, encoding="utf-8")
        pytest.skip("demo output baseline regenerated: review the diff before committing it")
    expected = BASELINE.read_text(encoding="utf-8")
    # Words, not lines: where rich wraps a line depends on the terminal's width.
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(), printed.splitlines(), "baseline", "now", lineterm=""
        )
    )
    assert printed.split() == expected.split(), (
        "the demo prints something else; if intended, rerun with SANDBOX_REGENERATE_GOLDEN=1 "
        "(lines are wrapped differently at other widths):\n" + diff
    )
