"""Seeded synthetic residents of Jiangsu, the sandbox's demo and dummy dataset.

Operators develop against dummy data that looks like the real thing but holds
no real person: resident IDs carry valid GB 11643-1999 check characters and
real Jiangsu region codes, names come from Faker ``zh_CN``, and incomes follow
a log-normal law scaled by city and education. The same seed always gives the
same frame, so tests and documentation can rely on it.

References:
    GB 11643-1999, *Citizen identification number* (structure and ISO 7064
    MOD 11-2 check character; computed here by :mod:`stdnum.cn.ric`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker
from stdnum.cn import ric

__all__ = ["DEMO_TAGS", "JIANGSU_CITIES", "generate_residents", "write_demo_csv"]

JIANGSU_CITIES: tuple[str, ...] = (
    "南京市", "无锡市", "徐州市", "常州市", "苏州市", "南通市", "连云港市",
    "淮安市", "盐城市", "扬州市", "镇江市", "泰州市", "宿迁市",
)  # fmt: skip

DEMO_TAGS: dict[str, str] = {
    "resident_id": "direct_identifier",
    "name": "direct_identifier",
    "sex": "quasi_identifier",
    "age": "quasi_identifier",
    "phone": "direct_identifier",
    "city": "quasi_identifier",
    "district": "quasi_identifier",
    "address": "direct_identifier",
    "education": "quasi_identifier",
    "occupation": "quasi_identifier",
    "income": "sensitive",
    "household_size": "plain",
}

# Current (2025) districts with their GB/T 2260 county-level codes.
_DISTRICTS: dict[str, tuple[tuple[str, str], ...]] = {
    "南京市": (("320102", "玄武区"), ("320104", "秦淮区"), ("320105", "建邺区"),
              ("320106", "鼓楼区"), ("320111", "浦口区"), ("320113", "栖霞区"),
              ("320114", "雨花台区"), ("320115", "江宁区")),
    "无锡市": (("320205", "锡山区"), ("320206", "惠山区"), ("320211", "滨湖区"),
              ("320213", "梁溪区"), ("320214", "新吴区")),
    "徐州市": (("320302", "鼓楼区"), ("320303", "云龙区"), ("320305", "贾汪区"),
              ("320311", "泉山区"), ("320312", "铜山区")),
    "常州市": (("320402", "天宁区"), ("320404", "钟楼区"), ("320411", "新北区"),
              ("320412", "武进区"), ("320413", "金坛区")),
    "苏州市": (("320505", "虎丘区"), ("320506", "吴中区"), ("320507", "相城区"),
              ("320508", "姑苏区"), ("320509", "吴江区")),
    "南通市": (("320612", "通州区"), ("320613", "崇川区"), ("320614", "海门区")),
    "连云港市": (("320703", "连云区"), ("320706", "海州区"), ("320707", "赣榆区")),
    "淮安市": (("320803", "淮安区"), ("320804", "淮阴区"), ("320812", "清江浦区"),
              ("320813", "洪泽区")),
    "盐城市": (("320902", "亭湖区"), ("320903", "盐都区"), ("320904", "大丰区")),
    "扬州市": (("321002", "广陵区"), ("321003", "邗江区"), ("321012", "江都区")),
    "镇江市": (("321102", "京口区"), ("321111", "润州区"), ("321112", "丹徒区")),
    "泰州市": (("321202", "海陵区"), ("321203", "高港区"), ("321204", "姜堰区")),
    "宿迁市": (("321302", "宿城区"), ("321311", "宿豫区")),
}  # fmt: skip

# Permanent population (10k, ~2023) drives city weights; median yearly
# income (CNY, close to per-capita disposable income) drives the income level.
_POPULATION = (954, 749, 902, 537, 1295, 773, 460, 455, 668, 458, 322, 450, 499)
_CITY_INCOME = (76_600, 75_000, 39_500, 66_600, 79_500, 56_400, 36_600,
                40_100, 44_000, 49_000, 57_600, 51_000, 33_700)  # fmt: skip

_EDUCATION = ("小学", "初中", "高中", "大专", "本科", "研究生")
_EDU_INCOME = (0.55, 0.7, 0.9, 1.1, 1.4, 1.9)
# Older cohorts had less schooling; rows: ages 18-29, 30-44, 45-59, 60+.
_EDU_BY_AGE = np.array([
    [0.03, 0.17, 0.25, 0.22, 0.28, 0.05],
    [0.05, 0.25, 0.22, 0.18, 0.25, 0.05],
    [0.15, 0.40, 0.25, 0.10, 0.09, 0.01],
    [0.40, 0.35, 0.15, 0.05, 0.045, 0.005],
])  # fmt: skip

_OCCUPATIONS = ("工人", "农民", "个体经营", "服务业", "销售", "教师", "医生",
                "工程师", "公务员", "金融", "无业", "学生", "退休")  # fmt: skip
_OCC_INCOME = (1.0, 0.7, 1.1, 0.85, 1.0, 1.1, 1.4, 1.3, 1.15, 1.5, 0.2, 0.15, 0.6)
# Working occupation by education (columns follow _OCCUPATIONS minus 学生, 退休).
_OCC_BY_EDU = np.array([
    [0.30, 0.30, 0.12, 0.18, 0.02, 0.00, 0.00, 0.00, 0.00, 0.00, 0.08],
    [0.32, 0.15, 0.15, 0.20, 0.08, 0.00, 0.00, 0.02, 0.01, 0.00, 0.07],
    [0.25, 0.05, 0.17, 0.20, 0.15, 0.02, 0.01, 0.06, 0.03, 0.01, 0.05],
    [0.12, 0.01, 0.12, 0.15, 0.18, 0.08, 0.05, 0.15, 0.06, 0.05, 0.03],
    [0.04, 0.00, 0.08, 0.06, 0.14, 0.14, 0.08, 0.24, 0.12, 0.08, 0.02],
    [0.00, 0.00, 0.03, 0.01, 0.04, 0.22, 0.15, 0.30, 0.12, 0.12, 0.01],
])  # fmt: skip

_STREETS = ("人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "黄河路",
            "淮海路", "文化路", "新华路", "青年路", "工农路", "健康路", "学府路",
            "幸福路", "朝阳路", "东风路", "园区大道", "太湖路", "运河路")  # fmt: skip
_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                    "151", "152", "153", "155", "156", "157", "158", "159", "166", "177",
                    "180", "181", "182", "183", "185", "186", "187", "188", "189", "198",
                    "199")  # fmt: skip
_HOUSEHOLD_P = (0.22, 0.30, 0.25, 0.13, 0.07, 0.03)
_REFERENCE = date(2025, 1, 1)


def _pick(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category index per row from that row's probability table."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)[rows]
    u = rng.random(len(rows))
    return np.asarray(np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1))


def _birth_dates(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Birth dates (``datetime64[D]``) that give exactly ``age`` on 2025-01-01."""
    years = (_REFERENCE.year - age - 1970).astype("datetime64[Y]")
    latest = years.astype("datetime64[D]")  # the birthday falls on the reference day
    span = (latest - (years - 1).astype("datetime64[D]")).astype(np.int64)  # 365 or 366
    offset = np.floor(rng.random(len(age)) * span).astype("timedelta64[D]")
    return np.asarray(latest - offset, dtype="datetime64[D]")


def _resident_ids(
    codes: np.ndarray, births: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """Unique 18-character IDs; odd order code for men, as GB 11643 requires."""
    order = rng.integers(0, 500, len(codes)) * 2 + male.astype(np.int64)
    ymd = [day.replace("-", "") for day in np.datetime_as_string(births, unit="D").tolist()]
    seen: set[str] = set()
    ids: list[str] = []
    for code, day, seq in zip(codes.tolist(), ymd, order.tolist(), strict=True):
        body = f"{code}{day}{seq:03d}"
        while body in seen:  # same place and birthday: take the next order code
            seq = (seq + 2) % 1000
            body = f"{code}{day}{seq:03d}"
        seen.add(body)
        ids.append(body + ric.calc_check_digit(body + "0"))
    return ids


def generate_residents(n: int = 5000, seed: int = 20250401) -> pl.DataFrame:
    """Generate ``n`` synthetic Jiangsu residents, reproducibly from ``seed``.

    Args:
        n: Number of rows (at least 0).
        seed: Seed for both the numpy generator and the Faker instance.

    Returns:
        A frame whose columns are the keys of :data:`DEMO_TAGS`, in order.

    Raises:
        ValueError: If ``n`` is negative.

    Example:
        >>> frame = generate_residents(3, seed=1)
        >>> frame.shape
        (3, 12)
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}; pass the number of rows wanted")
    rng = np.random.default_rng(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)

    ages = np.arange(18, 91)
    weight = np.where(ages < 60, 1.0, 1.0 - 0.9 * (ages - 60) / 30)  # fewer of the very old
    weight = weight + 0.25 * np.exp(-(((ages - 35) / 8.0) ** 2))  # working-age bulge
    age = rng.choice(ages, size=n, p=weight / weight.sum())
    male = rng.random(n) < 0.505

    pop = np.asarray(_POPULATION, dtype=float)
    city_idx = rng.choice(len(JIANGSU_CITIES), size=n, p=pop / pop.sum())
    city = np.asarray(JIANGSU_CITIES)[city_idx]
    district_pick = rng.random(n)
    codes = np.empty(n, dtype=object)
    district = np.empty(n, dtype=object)
    for i, name in enumerate(JIANGSU_CITIES):
        rows = city_idx == i
        table = _DISTRICTS[name]
        which = (district_pick[rows] * len(table)).astype(np.int64)
        codes[rows] = np.asarray([c for c, _ in table])[which]
        district[rows] = np.asarray([d for _, d in table])[which]

    births = _birth_dates(rng, age)
    ids = _resident_ids(codes, births, male, rng)
    names = [
        fake.last_name() + (fake.first_name_male() if m else fake.first_name_female())
        for m in male.tolist()
    ]
    phone = np.asarray(_MOBILE_PREFIXES)[rng.integers(0, len(_MOBILE_PREFIXES), n)]
    digits = rng.integers(0, 10**8, n)
    street = np.asarray(_STREETS)[rng.integers(0, len(_STREETS), n)]
    number = rng.integers(1, 800, n)

    age_band = np.digitize(age, [30, 45, 60])
    edu = _pick(rng, _EDU_BY_AGE, age_band)
    edu = np.minimum(edu, np.where(age < 22, 3, np.where(age < 25, 4, 5)))  # degrees take years
    occ = _pick(rng, _OCC_BY_EDU, edu)
    student = (age <= 24) & (edu >= 3) & (rng.random(n) < 0.45)
    retired = (age >= 60) & (rng.random(n) < np.clip((age - 55) / 10, 0.0, 0.95))
    occ = np.where(student, _OCCUPATIONS.index("学生"), occ)
    occ = np.where(retired, _OCCUPATIONS.index("退休"), occ)

    median = (
        np.asarray(_CITY_INCOME)[city_idx]
        * np.asarray(_EDU_INCOME)[edu]
        * np.asarray(_OCC_INCOME)[occ]
    )
    income = np.round(rng.lognormal(np.log(median), 0.45), 2)
    household = rng.choice(np.arange(1, 7), size=n, p=np.asarray(_HOUSEHOLD_P))

    return pl.DataFrame(
        {
            "resident_id": pl.Series(ids, dtype=pl.String),
            "name": pl.Series(names, dtype=pl.String),
            "sex": pl.Series(np.where(male, "男", "女").tolist(), dtype=pl.String),
            "age": pl.Series(age, dtype=pl.Int64),
            "phone": pl.Series(phone.tolist(), dtype=pl.String)
            + pl.Series(digits, dtype=pl.Int64).cast(pl.String).str.zfill(8),
            "city": pl.Series(city.tolist(), dtype=pl.String),
            "district": pl.Series(district.tolist(), dtype=pl.String),
            "address": pl.Series(
                [
                    f"江苏省{c}{d}{s}{k}号"
                    for c, d, s, k in zip(city, district, street, number.tolist(), strict=True)
                ],
                dtype=pl.String,
            ),
            "education": pl.Series(np.asarray(_EDUCATION)[edu].tolist(), dtype=pl.String),
            "occupation": pl.Series(np.asarray(_OCCUPATIONS)[occ].tolist(), dtype=pl.String),
            "income": pl.Series(income, dtype=pl.Float64),
            "household_size": pl.Series(household, dtype=pl.Int64),
        }
    )


def write_demo_csv(path: Path, n: int = 5000, seed: int = 20250401) -> Path:
    """Write :func:`generate_residents` output as UTF-8 CSV, creating parent folders.

    Args:
        path: Destination file; overwritten if it exists.
        n: Number of rows.
        seed: Generation seed.

    Returns:
        ``path``, for chaining.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_residents(n, seed).write_csv(path)
    return path
