"""The airlock's scanners count bare name-shaped cells only where names fill a column."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from anonymize.detect.scan import Finding, scan_file, scan_frame

#: Labels of a Jiangsu aggregate table; jieba's dictionary tags 连云港, 宿迁 and 钟山 as names.
LABELS = (
    "玄武区 秦淮区 连云港 宿迁 南通 扬州 本科 高中 汉族 已婚 退休 金融业 制造业 钟山 汤山 "
    "高收入 马拉松 春节 上午 投诉 城镇 农村 合计 其他"
).split()
NAMES = ["张伟", "李欣", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄娟", "周杰", "吴敏"]


def test_scan_frame_when_labels_look_like_names_then_no_finding() -> None:
    assert scan_frame(pl.DataFrame({"label": LABELS, "count": range(len(LABELS))})) == []


def test_scan_frame_when_column_of_names_then_every_name_found() -> None:
    frame = pl.DataFrame({"name": [*NAMES, None, "未知"]})
    assert scan_frame(frame) == [Finding("name", r, "PERSON") for r in range(10)]


def test_scan_frame_when_name_with_context_among_labels_then_found() -> None:
    frame = pl.DataFrame({"label": [*LABELS, "联系人张伟", "王小明先生"]})
    assert scan_frame(frame) == [
        Finding("label", len(LABELS), "PERSON"),  # after a context word
        Finding("label", len(LABELS) + 1, "PERSON"),  # before an honorific
    ]


def test_scan_file_when_labels_csv_then_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    pl.DataFrame({"label": LABELS, "name": NAMES * 2 + NAMES[:4]}).write_csv(path)
    assert set(scan_file(path)["column"].to_list()) == {"name"}
