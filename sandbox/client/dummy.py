"""Dummy rows from catalog metadata only: develop code before spending budget.

Nothing here reads the data: values come from each column's name, polars
type and tag, and from the key domains the catalog declares public. Direct
identifiers look real (resident IDs with valid GB 11643 check characters,
unified social credit codes with valid GB 32100 check characters, mobile
numbers, Chinese names, Jiangsu addresses) so that parsing and validation
code can be exercised, but every one of them is made up.

The check characters are computed here rather than with python-stdnum, and
the names here rather than with Faker, because both are server dependencies
and the client installs with httpx, polars and pydantic only; each checksum
is a few lines of its standard.

References:
    GB 11643-1999, *Citizen identification number*: ISO 7064 MOD 11-2 check
    character. GB 32100-2015, *Unified social credit code*: MOD 31 check
    character over the alphabet without I, O, Z, S, V.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from sandbox.client.schema import Column

Maker = Callable[[random.Random, int], Any]

JIANGSU_CITIES = (
    "南京市", "无锡市", "徐州市", "常州市", "苏州市", "南通市", "连云港市",
    "淮安市", "盐城市", "扬州市", "镇江市", "泰州市", "宿迁市",
)  # fmt: skip
# A few county-level codes (GB/T 2260) and districts per city, for IDs and addresses.
_DISTRICTS = (
    ("320102", "南京市", "玄武区"),
    ("320105", "南京市", "建邺区"),
    ("320115", "南京市", "江宁区"),
    ("320211", "无锡市", "滨湖区"),
    ("320205", "无锡市", "锡山区"),
    ("320303", "徐州市", "云龙区"),
    ("320411", "常州市", "新北区"),
    ("320505", "苏州市", "虎丘区"),
    ("320506", "苏州市", "吴中区"),
    ("320508", "苏州市", "姑苏区"),
    ("320612", "南通市", "通州区"),
    ("320703", "连云港市", "连云区"),
    ("320812", "淮安市", "清江浦区"),
    ("320902", "盐城市", "亭湖区"),
    ("321002", "扬州市", "广陵区"),
    ("321111", "镇江市", "润州区"),
    ("321202", "泰州市", "海陵区"),
    ("321302", "宿迁市", "宿城区"),
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩然欣怡子涵梓轩"
_ROADS = ("中山路", "人民路", "解放路", "建设路", "长江路", "太湖路", "运河路", "学府路")
_MOBILE = ("130", "133", "135", "136", "138", "139", "150", "151", "158", "177", "186", "189")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_check(body: str) -> str:
    """GB 11643 check character of a 17-digit ID body (ISO 7064 MOD 11-2).

    >>> resident_id_check("11010519491231002")
    'X'
    """
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    return "10X98765432"[total % 11]


def uscc_check(body: str) -> str:
    """GB 32100 check character of a 17-character unified social credit code body.

    >>> uscc_check("91110000600037341")  # python-stdnum's documented example, ...341L
    'L'
    """
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _resident_id(rng: random.Random, _i: int) -> str:
    code = rng.choice(_DISTRICTS)[0]
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(24_000))
    body = f"{code}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + resident_id_check(body)


def _uscc(rng: random.Random, _i: int) -> str:
    org = "".join(rng.choice(_USCC_ALPHABET) for _ in range(9))
    body = f"91{rng.choice(_DISTRICTS)[0]}{org}"
    return body + uscc_check(body)


def _name(rng: random.Random, _i: int) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _company(rng: random.Random, _i: int) -> str:
    city = rng.choice(JIANGSU_CITIES).removesuffix("市")
    return f"{city}{rng.choice(_GIVEN)}{rng.choice(_GIVEN)}科技有限公司"


def _address(rng: random.Random, _i: int) -> str:
    _, city, district = rng.choice(_DISTRICTS)
    building, room = rng.randrange(1, 40), rng.randrange(101, 2400)
    return (
        f"江苏省{city}{district}{rng.choice(_ROADS)}{rng.randrange(1, 300)}号{building}栋{room}室"
    )


def _phone(rng: random.Random, _i: int) -> str:
    return rng.choice(_MOBILE) + f"{rng.randrange(10**8):08d}"


def _email(rng: random.Random, i: int) -> str:
    return f"user{i}.{rng.randrange(10**4):04d}@example.com"


def _choice(values: Sequence[Any]) -> Maker:
    return lambda rng, _i: rng.choice(values)


def _ints(low: int, high: int) -> Maker:
    return lambda rng, _i: rng.randint(low, high)


def _income(rng: random.Random, _i: int) -> float:
    return round(rng.lognormvariate(11.0, 0.6), 2)


def _dates(start: dt.date, days: int) -> Maker:
    return lambda rng, _i: start + dt.timedelta(days=rng.randrange(days))


def _datetimes(start: dt.datetime, seconds: int) -> Maker:
    return lambda rng, _i: start + dt.timedelta(seconds=rng.randrange(seconds))


# (pattern on the lower-cased column name, maker) for text columns, first match wins.
_TEXT: tuple[tuple[str, Maker], ...] = (
    (r"resident|id_?card|id_?no|citizen|身份证|sfz", _resident_id),
    (r"uscc|credit_?code|信用代码", _uscc),
    (r"phone|mobile|tel|手机|电话", _phone),
    (r"e_?mail|邮箱", _email),
    (r"addr|住址|地址", _address),
    (r"company|enterprise|org|firm|企业|单位|公司", _company),
    (r"name|姓名", _name),
    (r"district|区县", _choice([d for _, _, d in _DISTRICTS])),
    (r"city|城市|设区市", _choice(JIANGSU_CITIES)),
    (r"sex|gender|性别", _choice(("男", "女"))),
)
_NUMBER: tuple[tuple[str, Maker], ...] = (
    (r"income|salary|wage|pay|收入|工资", _income),
    (r"(^|_)age($|_)|年龄", _ints(18, 90)),
    (r"size|count|number|人数|数量", _ints(1, 6)),
    (r"year|年份", _ints(2015, 2025)),
)


def _maker(column: Column, dtype: pl.DataType) -> Maker:
    name = column.name.lower()
    if dtype == pl.String:
        for pattern, maker in _TEXT:
            if re.search(pattern, name):
                return maker
        return _choice([f"{column.name}_{c}" for c in "ABCDEFGH"])
    if dtype.is_numeric():
        for pattern, maker in _NUMBER:
            if re.search(pattern, name):
                return maker
        if dtype.is_integer():
            return _ints(0, 100)
        return lambda rng, _i: round(rng.uniform(0.0, 1000.0), 2)
    if dtype == pl.Boolean:
        return _choice((True, False))
    if dtype == pl.Date:
        born = re.search(r"birth|出生", name)
        return _dates(dt.date(1940, 1, 1), 24_000) if born else _dates(dt.date(2020, 1, 1), 2000)
    if isinstance(dtype, pl.Datetime):
        return _datetimes(dt.datetime(2020, 1, 1), 5 * 365 * 86_400)
    return lambda _rng, _i: None


def dummy_frame(
    columns: Sequence[Column],
    n: int,
    *,
    public_keys: Mapping[str, Sequence[Any]] | None = None,
    seed: int | None = None,
) -> pl.DataFrame:
    """``n`` made-up rows with the catalog's schema.

    Args:
        columns: The catalog's columns, in order.
        n: Number of rows (at least 0).
        public_keys: Declared public key domains; such a column draws from its domain.
        seed: Fixes the rows; ``None`` draws fresh ones.

    Returns:
        A frame whose column names and dtypes are the catalog's.

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError("n must be 0 or more")
    rng = random.Random(seed)  # noqa: S311 - made-up rows, not secrets
    keys = public_keys or {}
    data: dict[str, pl.Series] = {}
    for column in columns:
        dtype = column.polars_dtype
        make = _choice(list(keys[column.name])) if keys.get(column.name) else _maker(column, dtype)
        values = [make(rng, i) for i in range(n)]
        if dtype.is_integer() and values and isinstance(values[0], float):
            values = [round(v) for v in values]
        data[column.name] = pl.Series(column.name, values, dtype=dtype, strict=False)
    return pl.DataFrame(data)
