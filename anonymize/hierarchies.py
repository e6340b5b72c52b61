"""Generalization hierarchies for quasi-identifiers, each level a polars expression.

A hierarchy of height ``h`` gives levels ``0..h`` for one column: level 0 is
the value itself, level ``h`` is ``"*"`` (the attribute suppressed), and each
level in between is a coarser recoding of the one below it, so equivalence
classes only merge as levels rise. That nesting is what makes full-domain
generalization a lattice whose anonymity is monotone (Samarati 2001;
Sweeney 2002), which :mod:`anonymize.kanon` exploits.

Hierarchies are pydantic models (``extra="forbid"``) so a job spec can
declare them as data; ``kind`` selects the family:

- ``interval``: numbers to bands of growing width (age → 5, 10, 20 years);
- ``cuts``: numbers to ranges between given cut points (income);
- ``date``: dates to month, quarter (``2024-Q1``), year, decade (birth
  date → year);
- ``prefix``: strings to their first code points (resident ID → 6/4/2-digit
  region of GB/T 2260; postcode → prefix);
- ``address``: Chinese addresses to district / city / province, parsed on
  省 / 自治区 / 市 / 州 / 盟 / 区 / 县 / 旗;
- ``map``: categorical maps given as data (district → city → province);
- ``table``: a steward's hierarchy in ARX's CSV format, one line per value
  (``value;level1;level2;…;*``), every level read straight off its column.

This module is long because every family of levels lives beside the one
base class whose nesting they all must keep, in one discriminated union a
job spec names; split, the union would import each file back.

References:
    P. Samarati. Protecting respondents' identities in microdata release.
    IEEE TKDE 13(6), 2001.
    L. Sweeney. Achieving k-anonymity privacy protection using
    generalization and suppression. IJUFKS 10(5), 2002.
    GB/T 2260, Codes for the administrative divisions of the PRC.
"""

from __future__ import annotations

import itertools
import logging
from typing import Annotated, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from anonymize.errors import AnonymizationError

#: Exact diagnostics (how many values failed) go to this log, inside the boundary;
#: error messages carry no number derived from the data, as they may reach an operator.
log = logging.getLogger(__name__)
#: The value of every cell at the top level of a hierarchy.
SUPPRESSED = "*"

# Address parts: a name (no separator characters, no street words) and its suffix.
_NAME = r"[^省市区县旗路街巷弄号栋幢室\s]"
_PROVINCE = rf"{_NAME}{{2,8}}?(?:省|自治区|特别行政区)|(?:北京|天津|上海|重庆)市"
_CITY = rf"{_NAME}{{1,10}}?(?:市|自治州|地区|盟)"
_DISTRICT = rf"{_NAME}{{1,8}}?(?:区|县|市|旗)"
_ADDRESS = rf"^\s*({_PROVINCE})?({_CITY})?({_DISTRICT})?"

AddressLevel = Literal["district", "city", "province"]
DateLevel = Literal["month", "quarter", "year", "decade"]


def _everything(column: str) -> pl.Expr:
    """``"*"`` in every row (a bare literal would collapse a lone select to one row)."""
    star = pl.lit(SUPPRESSED, pl.String)
    return pl.when(pl.col(column).is_null()).then(star).otherwise(star)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Hierarchy(BaseModel):
    """Levels ``0..height`` of one column; subclasses define the middle levels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def height(self) -> int:
        """The top level (``"*"``); the generalizing levels are ``1..height - 1``."""
        return self._steps() + 1

    def _steps(self) -> int:
        raise NotImplementedError

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        raise NotImplementedError

    def expr(self, column: str, level: int) -> pl.Expr:
        """The column generalized to ``level``, named like the column.

        Level 0 keeps the values and their type; higher levels are strings,
        nulls stay null below the top.

        Raises:
            AnonymizationError: ``level`` is outside ``0..height``.
        """
        if not 0 <= level <= self.height:
            raise AnonymizationError(
                f"level {level} does not exist for column '{column}': "
                f"choose a level from 0 to {self.height}"
            )
        if level == 0:
            return pl.col(column)
        if level == self.height:
            return _everything(column).alias(column)
        return self._level(pl.col(column), level).alias(column)

    def expressions(self, column: str) -> list[pl.Expr]:
        """Every level of ``column``, from 0 to :attr:`height`."""
        return [self.expr(column, level) for level in range(self.height + 1)]

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        """Raise unless ``column`` exists and this hierarchy can generalize it.

        The message names the column and what to change, never how many values
        failed (a count would be an exact query answered outside any privacy
        budget); the count goes to the server log.

        Raises:
            AnonymizationError: The column is missing, of the wrong type, or
                holds values the hierarchy cannot read (dates) or map (maps).
        """
        if column not in frame.columns:
            raise AnonymizationError(
                f"column '{column}' is not in the table: check the spec against the schema"
            )


class IntervalHierarchy(_Hierarchy):
    """Numbers to half-open bands ``[lo, hi)`` of growing width (age bands).

    >>> frame = pl.DataFrame({"age": [23, 37]})
    >>> frame.select(IntervalHierarchy(widths=(5, 10)).expr("age", 1))["age"].to_list()
    ['[20, 25)', '[35, 40)']
    """

    kind: Literal["interval"] = "interval"
    #: Band widths, finest first; each must divide the next so bands nest.
    widths: tuple[Annotated[float, Field(gt=0)], ...] = Field(min_length=1)
    #: Where bands start (bands are ``origin + i * width``).
    origin: float = 0.0

    @model_validator(mode="after")
    def _nested(self) -> IntervalHierarchy:
        for fine, coarse in zip(self.widths, self.widths[1:], strict=False):
            ratio = coarse / fine
            if ratio <= 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError("each width must be a multiple (> 1) of the previous one")
        return self

    def _steps(self) -> int:
        return len(self.widths)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        width = self.widths[level - 1]
        low = ((value - self.origin) / width).floor() * width + self.origin
        high = low + width
        if all(float(w).is_integer() for w in self.widths) and float(self.origin).is_integer():
            low, high = low.cast(pl.Int64), high.cast(pl.Int64)
        return pl.concat_str(
            [pl.lit("["), low.cast(pl.String), pl.lit(", "), high.cast(pl.String), pl.lit(")")]
        )

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        super().check_column(frame, column)
        if not frame.schema[column].is_numeric():
            raise AnonymizationError(
                f"column '{column}' is not numeric: use an interval hierarchy only on numbers"
            )


class CutHierarchy(_Hierarchy):
    """Numbers to ranges between cut points, coarser levels using fewer cuts (income).

    >>> h = CutHierarchy(levels=((3000, 8000, 20000), (8000,)))
    >>> pl.DataFrame({"income": [2500, 9000]}).select(h.expr("income", 1))["income"].to_list()
    ['<3000', '[8000, 20000)']
    """

    kind: Literal["cuts"] = "cuts"
    #: Cut points per level, finest first; each level's cuts a subset of the one before.
    levels: tuple[tuple[float, ...], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _nested(self) -> CutHierarchy:
        for cuts in self.levels:
            if not cuts or list(cuts) != sorted(set(cuts)):
                raise ValueError("cut points must be non-empty and strictly increasing")
        for fine, coarse in zip(self.levels, self.levels[1:], strict=False):
            if not set(coarse) < set(fine):
                raise ValueError("each level's cut points must be a proper subset of the previous")
        return self

    def _steps(self) -> int:
        return len(self.levels)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        cuts = self.levels[level - 1]
        names = [_number(c) for c in cuts]
        labels = [f"<{names[0]}"]
        labels += [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(names)]
        labels.append(f">={names[-1]}")
        index = pl.lit(pl.Series(cuts, dtype=pl.Float64)).search_sorted(
            value.cast(pl.Float64), side="right"
        )
        label = index.replace_strict(list(range(len(labels))), labels, return_dtype=pl.String)
        return pl.when(value.is_null()).then(None).otherwise(label)

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        super().check_column(frame, column)
        if not frame.schema[column].is_numeric():
            raise AnonymizationError(
                f"column '{column}' is not numeric: use a cuts hierarchy only on numbers"
            )


class DateHierarchy(_Hierarchy):
    """Dates (or ISO ``YYYY-MM-DD`` strings) to month, quarter, year, decade (birth date → year).

    Quarters are calendar quarters labelled ``YYYY-Qn`` (Q1 = January to March),
    the period of quarterly statistics.

    >>> h = DateHierarchy(levels=("year", "decade"))
    >>> pl.DataFrame({"born": ["1985-03-02"]}).select(h.expr("born", 1))["born"].to_list()
    ['1985']
    >>> h = DateHierarchy(levels=("month", "quarter", "year"))
    >>> pl.DataFrame({"d": ["2024-05-31"]}).select(h.expr("d", 2))["d"].to_list()
    ['2024-Q2']
    """

    kind: Literal["date"] = "date"
    levels: tuple[DateLevel, ...] = Field(default=("year",), min_length=1)

    @model_validator(mode="after")
    def _coarsening(self) -> DateHierarchy:
        order = ["month", "quarter", "year", "decade"]
        ranks = [order.index(level) for level in self.levels]
        if ranks != sorted(set(ranks)):
            raise ValueError("date levels must grow coarser: month, quarter, year, decade")
        return self

    def _steps(self) -> int:
        return len(self.levels)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        # The dtype is unknown here: the text form of a date or datetime starts
        # with its ISO date, so one parse covers dates, datetimes and strings.
        date = value.cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        year = date.dt.year()
        match self.levels[level - 1]:
            case "month":
                return date.dt.strftime("%Y-%m")
            case "quarter":
                return pl.concat_str(
                    [year.cast(pl.String), pl.lit("-Q"), date.dt.quarter().cast(pl.String)]
                )
            case "year":
                return year.cast(pl.String)
            case _:
                decade = (year // 10) * 10
                return pl.concat_str(
                    [
                        pl.lit("["),
                        decade.cast(pl.String),
                        pl.lit(", "),
                        (decade + 10).cast(pl.String),
                        pl.lit(")"),
                    ]
                )

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        super().check_column(frame, column)
        dtype = frame.schema[column]
        if not (dtype.is_temporal() or dtype == pl.String):
            raise AnonymizationError(
                f"column '{column}' holds no dates: use a date hierarchy on dates or "
                "ISO 'YYYY-MM-DD' strings"
            )
        value = pl.col(column).cast(pl.String).str.slice(0, 10)
        unreadable = frame.select(
            (value.is_not_null() & value.str.to_date("%Y-%m-%d", strict=False).is_null()).sum()
        ).item()
        if unreadable:
            log.warning(
                "date hierarchy: %d value(s) of column %r are not ISO dates", unreadable, column
            )
            raise AnonymizationError(
                f"column '{column}' holds values that are not ISO 'YYYY-MM-DD' dates: "
                "convert the column to a date type first"
            )


class PrefixHierarchy(_Hierarchy):
    """Strings to their first code points (resident ID → region; postcode → area).

    >>> h = PrefixHierarchy(lengths=(6, 4, 2))
    >>> pl.DataFrame({"id": ["32010219800101123X"]}).select(h.expr("id", 2))["id"].to_list()
    ['3201']
    """

    kind: Literal["prefix"] = "prefix"
    #: Prefix lengths, longest first.
    lengths: tuple[Annotated[int, Field(gt=0)], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _shrinking(self) -> PrefixHierarchy:
        if any(a <= b for a, b in zip(self.lengths, self.lengths[1:], strict=False)):
            raise ValueError("prefix lengths must strictly decrease")
        return self

    def _steps(self) -> int:
        return len(self.lengths)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        return value.cast(pl.String).str.head(self.lengths[level - 1])


class AddressHierarchy(_Hierarchy):
    """Chinese addresses to district, city, province, parsed on administrative suffixes.

    A level that cannot be parsed falls back to the next coarser one, and an
    address with no province falls back to ``"*"`` at the province level:
    the fallback never reveals more than the level asks for. Where a map from
    city to province is known, a :class:`MapHierarchy` recovers more.

    >>> h = AddressHierarchy()
    >>> frame = pl.DataFrame({"addr": ["江苏省南京市玄武区中山路1号"]})
    >>> [frame.select(h.expr("addr", i)).item() for i in (1, 2, 3)]
    ['江苏省南京市玄武区', '江苏省南京市', '江苏省']
    """

    kind: Literal["address"] = "address"
    levels: tuple[AddressLevel, ...] = Field(default=("district", "city", "province"), min_length=1)

    @model_validator(mode="after")
    def _coarsening(self) -> AddressHierarchy:
        order = ["district", "city", "province"]
        ranks = [order.index(level) for level in self.levels]
        if ranks != sorted(set(ranks)):
            raise ValueError("address levels must grow coarser: district, city, province")
        return self

    def _steps(self) -> int:
        return len(self.levels)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        text = value.cast(pl.String)
        province, city, district = (text.str.extract(_ADDRESS, i) for i in (1, 2, 3))
        municipal = province.str.ends_with("市")
        at_province = pl.when(text.is_null()).then(None).otherwise(province.fill_null(SUPPRESSED))
        at_city = (
            pl.when(city.is_not_null())
            .then(pl.concat_str([province.fill_null(""), city]))
            .when(municipal)
            .then(province)
            .otherwise(at_province)
        )
        at_district = (
            pl.when(district.is_not_null() & (city.is_not_null() | municipal))
            .then(pl.concat_str([province.fill_null(""), city.fill_null(""), district]))
            .otherwise(at_city)
        )
        return {"district": at_district, "city": at_city, "province": at_province}[
            self.levels[level - 1]
        ]


class MapHierarchy(_Hierarchy):
    """Categorical values up a map given as data, one dict per level (district → city).

    Level ``i`` maps the value of level ``i - 1``; a value missing from a map
    is an error caught by :meth:`check_column`, never silently kept.

    >>> h = MapHierarchy(levels=({"玄武区": "南京市"}, {"南京市": "江苏省"}))
    >>> pl.DataFrame({"d": ["玄武区"]}).select(h.expr("d", 2)).item()
    '江苏省'
    """

    kind: Literal["map"] = "map"
    levels: tuple[dict[str, str], ...] = Field(min_length=1)

    def _steps(self) -> int:
        return len(self.levels)

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        out = value.cast(pl.String)
        for mapping in self.levels[:level]:
            out = out.replace_strict(mapping, default=None, return_dtype=pl.String)
        return out

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        super().check_column(frame, column)
        for level in range(1, self.height):
            missing = frame.select(
                (pl.col(column).is_not_null() & self.expr(column, level).is_null()).sum()
            ).item()
            if missing:
                log.warning(
                    "map hierarchy: %d value(s) of column %r have no entry in the map of level %d",
                    missing,
                    column,
                    level,
                )
                raise AnonymizationError(
                    f"column '{column}' holds values that have no entry in the map of "
                    f"level {level}: complete the hierarchy's map"
                )


class TableHierarchy(_Hierarchy):
    r"""A hierarchy given as a table in ARX's CSV format: ``value;level1;…;*`` per line.

    Column ``i`` of a line is the value's generalization at level ``i``; the
    last column is ``*`` on every line (ARX's full suppression), so a table of
    ``n`` columns has height ``n - 1`` and its top is this module's ``*``
    level, not one more above it. Levels must nest: two values that share a
    level share every level above it.

    >>> h = TableHierarchy.from_csv("Male;*\nFemale;*\n")
    >>> h.height
    1
    >>> h = TableHierarchy.from_csv("11th;High School;Secondary;*\nBachelors;Undergrad;Higher;*")
    >>> pl.DataFrame({"e": ["11th"]}).select(h.expr("e", 2)).item()
    'Secondary'
    """

    kind: Literal["table"] = "table"
    #: One row per value: the value, then its generalizations, the last one ``*``.
    rows: tuple[tuple[str, ...], ...] = Field(min_length=1, max_length=1_000_000)

    @model_validator(mode="after")
    def _well_formed(self) -> TableHierarchy:
        width = len(self.rows[0])
        if width < 2:
            raise ValueError("each line needs a value and at least the top level '*'")
        seen: set[str] = set()
        for number, row in enumerate(self.rows, start=1):
            if len(row) != width:
                raise ValueError(
                    f"line {number} has {len(row)} columns where the first has {width}: "
                    "every line needs the same number of levels"
                )
            if row[-1] != SUPPRESSED:
                raise ValueError(f"line {number} does not end in '*': the top level must be '*'")
            if row[0] in seen:
                raise ValueError(f"line {number} repeats a value of an earlier line")
            seen.add(row[0])
        for level in range(1, width - 1):
            parents: dict[str, str] = {}
            for number, row in enumerate(self.rows, start=1):
                if parents.setdefault(row[level], row[level + 1]) != row[level + 1]:
                    raise ValueError(
                        f"line {number}: level {level} maps to two different values at level "
                        f"{level + 1}, so the levels do not nest"
                    )
        return self

    @classmethod
    def from_csv(cls, text: str, *, delimiter: str = ";") -> TableHierarchy:
        """Read ARX's hierarchy CSV (``;``-separated, no header; blank lines skipped).

        Raises:
            AnonymizationError: The table is empty, ragged, does not end in
                ``*`` on every line, repeats a value or its levels do not nest;
                the message names the line, never a value.
        """
        rows = tuple(
            tuple(cell.strip() for cell in line.split(delimiter))
            for line in text.lstrip("\ufeff").splitlines()
            if line.strip()
        )
        if not rows:
            raise AnonymizationError("the hierarchy file is empty: give one line per value")
        try:
            return cls(rows=rows)
        except ValueError as err:
            errors = getattr(err, "errors", None)
            detail = errors()[0]["msg"] if callable(errors) else str(err)
            raise AnonymizationError(
                f"the hierarchy file is not in ARX's format: {detail.removeprefix('Value error, ')}"
            ) from None

    def to_csv(self, *, delimiter: str = ";") -> str:
        """The table back in ARX's format."""
        return "".join(delimiter.join(row) + "\n" for row in self.rows)

    def _steps(self) -> int:
        return len(self.rows[0]) - 2

    def _level(self, value: pl.Expr, level: int) -> pl.Expr:
        mapping = {row[0]: row[level] for row in self.rows}
        return value.cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.String)

    def check_column(self, frame: pl.DataFrame, column: str) -> None:
        super().check_column(frame, column)
        known = pl.Series([row[0] for row in self.rows], dtype=pl.String)
        missing = frame.select(
            (
                pl.col(column).is_not_null()
                & ~pl.col(column).cast(pl.String).is_in(known.implode())
            ).sum()
        ).item()
        if missing:
            log.warning("table hierarchy: %d value(s) of column %r have no line", missing, column)
            raise AnonymizationError(
                f"column '{column}' holds values that have no line in its hierarchy: "
                "add a line for every value"
            )


#: Any hierarchy, chosen by its ``kind`` field.
Hierarchy = Annotated[
    IntervalHierarchy
    | CutHierarchy
    | DateHierarchy
    | PrefixHierarchy
    | AddressHierarchy
    | MapHierarchy
    | TableHierarchy,
    Field(discriminator="kind"),
]

__all__ = [
    "SUPPRESSED",
    "AddressHierarchy",
    "CutHierarchy",
    "DateHierarchy",
    "Hierarchy",
    "IntervalHierarchy",
    "MapHierarchy",
    "PrefixHierarchy",
    "TableHierarchy",
]
