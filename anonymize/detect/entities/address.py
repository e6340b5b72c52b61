"""Street-level addresses (``CN_ADDRESS``): province, city, district, town, road or
street, number, estate and building / unit / room. At least a road and an
administrative level above it, or a road and a house number, are needed: a
bare 江苏省南京市 is a generalized location, not an address.

An address is read as one run: it starts where a run of place characters starts
(after a stop character such as 在, 住, 址 or a non-Chinese one), spans at most
60 place characters, digits and letters, and ends at the last character that
can end an address (a level, road, number, building or room). Every part is
linear in both engines: nested optional parts (province? city? district? …)
made Python backtrack for minutes on 市市市… and Rust's automaton 50x slower.
Whether the run is an address is then decided by :func:`is_address`.
"""

from __future__ import annotations

import re

import polars as pl

from anonymize.detect._names import han_except
from anonymize.detect.entity import EntityDefinition, Rule, Trim, Validator
from anonymize.detect.text import ANY1, PAD_BEFORE

NAME = "CN_ADDRESS"

_PLACE_BODY = han_except("在住于是的了到往从至址为与及向我你他她您们请把由回看今昨说过送寄")
_CHAR = f"[{_PLACE_BODY}0-9A-Za-z-]"
_END = (
    "(?:(?:楼|座|栋|幢|单元|层)(?:[0-9]{1,5}室?)?"
    "|[省市区县州盟旗镇乡路街巷弄道号室园苑城村庄里厦寓场])"
)
_RUN = 60
PATTERN = f"[{_PLACE_BODY}]{_CHAR}{{0,{_RUN}}}{_END}"
#: The same run unbounded: Rust's regex locates its matches 4x faster (the bounded repeat of a
#: large class blows up the automaton that finds where a match starts). Where its match spans
#: at most :data:`FAST_LONGEST` characters, it is the match of :data:`PATTERN`
#: (leftmost-first: the same start, and the same first choice among the shorter runs).
FAST = f"[{_PLACE_BODY}]{_CHAR}*{_END}"
FAST_LONGEST = 1 + _RUN + 1
_START = f"(?:(?s:.)[^{_PLACE_BODY}])"
#: An address has a road and either two administrative levels or a house number on the road.
ROAD = "路|街|巷|弄|胡同|大道"
LEVELS = "[省市区县州盟旗镇乡].*[省市区县州盟旗镇乡]"
NUMBER = "(?:路|街|巷|弄|胡同|大道|段)[0-9]{1,5}(?:号|弄)"
#: Words that open a run of place characters without being part of the address, as
#: ``(characters the span must follow, or "" for any, regex whose group 1 is cut off)``:
#: 现居 and what little precedes it in the run (申请人现居江苏省…), and the second
#: characters of 住所 and 到达 / 抵达 (住, 到 and 抵 stop a run; 到达州市 goes to 达州市).
LEADS = (("", "^(.?现居)"), ("住", "^(所)"), ("到抵", "^(达)[^州]"))
#: A run that ends in 楼 right before 上 or 下 ends upstairs or downstairs of the address, not
#: in a building (…201室楼下, …室业主刘鑫反映楼上), unless a number or a building word is
#: before 楼 (3号楼下): the address is then the run up to its previous possible end.
STAIRS = ("楼", "上下", "0123456789号栋幢座")
#: The longest start of a run that ends where an address can end (group 1).
UP_TO_END = f"^((?s:.)*{_END})"

_CHECKS = tuple(re.compile(p) for p in (ROAD, LEVELS, NUMBER))


def is_address(candidate: str) -> bool:
    """A road, and two administrative levels (省, 市, 区 …) or a house number on the road.

    A bare 江苏省南京市 is a generalized location, not an address; 城市道路 has
    a road word and a single level.

    >>> is_address("南京市玄武区长江路"), is_address("江苏省南京市"), is_address("中山路18号")
    (True, False, True)
    """
    road, levels, number = _CHECKS
    return bool(road.search(candidate)) and bool(
        levels.search(candidate) or number.search(candidate)
    )


def address_ok(span: pl.Expr) -> pl.Expr:
    """A road and two levels or a house number (as :func:`is_address`)."""
    return span.str.contains(ROAD) & (span.str.contains(LEVELS) | span.str.contains(NUMBER))


def address_cut(padded: str, end: int, span: str) -> str:
    """An address ``span`` (ending at ``padded[end]``) without a trailing 楼 that is upstairs
    or downstairs (:data:`STAIRS`): the run up to its previous end ('' if none)."""
    last, after, building = STAIRS
    if not (span.endswith(last) and padded[end : end + 1] in tuple(after)):
        return span
    if len(span) > 1 and span[-2] in building:
        return span
    shorter = re.match(UP_TO_END, span[:-1])
    return "" if shorter is None else shorter.group(1)


def address_lead(padded: str, start: int, span: str) -> int:
    """How many characters at the start of an address ``span`` (at ``padded[start]``) are a
    word that leads to it rather than part of it (:data:`LEADS`)."""
    for previous, lead in LEADS:
        opening = re.match(lead, span)
        if opening is not None and (not previous or padded[start - 1] in previous):
            return len(opening.group(1))
    return 0


def _trim(padded: str, start: int, end: int, span: str) -> tuple[int, str]:
    """The match without a trailing 楼 that is upstairs and a word that leads to it."""
    span = address_cut(padded, end, span)
    lead = address_lead(padded, start, span)
    return lead, span[lead:]


def trim_address(frame: pl.DataFrame) -> pl.DataFrame:
    """Address spans (``padded``, ``start``, ``end``, ``hit``) without a trailing 楼 that is
    upstairs or downstairs, then without a word that leads to them (as
    :func:`address_cut` and :func:`address_lead`)."""
    if not frame.height:
        return frame
    last, after, building = STAIRS
    hit, start = pl.col("hit"), pl.col("start")
    following = pl.col("padded").str.slice(pl.col("end") + len(PAD_BEFORE), 1)
    stairs = (
        hit.str.ends_with(last)
        & following.is_in(pl.Series(list(after), dtype=pl.String).implode())
        & ~hit.str.slice(-2, 1).is_in(pl.Series(list(building), dtype=pl.String).implode())
        & (hit.str.len_chars() > 1)
    )
    shorter = hit.str.slice(0, hit.str.len_chars() - 1).str.extract(UP_TO_END, 1)
    cut = pl.when(stairs).then(shorter.fill_null("")).otherwise(hit)
    frame = frame.with_columns(cut.alias("hit"))
    frame = frame.with_columns((start + hit.str.len_chars()).alias("end"))
    return _trim_lead(frame)


def _trim_lead(frame: pl.DataFrame) -> pl.DataFrame:
    """Address spans without a word that leads to them (the first matching lead counts)."""
    hit, start = pl.col("hit"), pl.col("start")
    before = pl.col("padded").str.slice(start + len(PAD_BEFORE) - 1, 1)
    width: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for previous, lead in reversed(LEADS):
        opening = hit.str.extract(lead, 1)
        opens = opening.is_not_null()
        if previous:
            opens = opens & before.is_in(pl.Series(list(previous), dtype=pl.String).implode())
        cut = opening.str.len_chars().cast(pl.Int64)
        width = pl.when(opens).then(cut).otherwise(width)
    return frame.with_columns((start + width).alias("start"), hit.str.slice(width).alias("hit"))


_ADDRESS = "江苏省南京市玄武区中山路18号3栋2单元501室"

ADDRESS = EntityDefinition(
    name=NAME,
    rules=(
        Rule(
            NAME,
            PATTERN,
            _START,
            ANY1,
            score=0.6,
            requires=ROAD,
            fast=(FAST, FAST_LONGEST),
        ),
    ),
    context=("地址", "住址", "家住", "居住", "位于", "寄往", "送至", "address"),
    validator=Validator(is_address, (address_ok,)),
    trim=Trim(_trim, trim_address),
    contextual=True,
    examples=(
        (f"地址：{_ADDRESS}", _ADDRESS),  # province to room
        ("中山路18号", "中山路18号"),  # a road and a house number
        ("家住南京市玄武区长江路", "南京市玄武区长江路"),  # two levels and a road
        (f"申请人现居{_ADDRESS}，拟于", _ADDRESS),  # 现居 leads to it
        ("到达州市通川区朝阳路5号", "达州市通川区朝阳路5号"),  # 达州 is a city
        (f"{_ADDRESS}楼下被盗", _ADDRESS),  # 楼下 is downstairs, no part of it
    ),
    counter_examples=(
        "城市道路建设",  # a road word and one level: no address
        "江苏省南京市",  # a generalized location, not an address
    ),
)
