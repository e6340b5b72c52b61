"""Seeded ground truth for the PII detectors: Chinese texts with labelled spans.

Each text is a form line, a receipt, a note, a company record, a log line or a
bare cell. Positives are built here, independently of the detectors' patterns:
resident IDs carry GB 11643 check characters (:mod:`stdnum.cn.ric`) and real
birth dates, bank cards pass Luhn (:mod:`stdnum.luhn`), USCCs carry the
GB 32100 check character (:mod:`stdnum.cn.uscc`). Hard negatives (order,
tracking and invoice numbers, amounts, dates, IDs with a wrong check character
or an impossible date, 62-prefixed numbers failing Luhn, hotlines, 11-digit
numbers with no mobile prefix, versions, IP addresses) are inserted unlabelled
and recorded in :attr:`LabelledText.negatives` so a test can say which kind
fooled a detector. A negative is redrawn whenever it would also read as a
positive (for instance an order number that happens to pass Luhn), so every
label is unambiguous.

Text ``i`` depends only on ``(seed, i)``: ``make_corpus(800, s)`` is the prefix
of ``make_corpus(3000, s)``. Offsets are code points (Python ``str`` indices).

References:
    GB 11643-1999, citizen identification number; GB 32100-2015, unified
    social credit code; ISO/IEC 7812-1 (Luhn) for payment cards.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl
from faker import Faker
from stdnum import luhn
from stdnum.cn import ric, uscc

from anonymize.detect.entities import Entity

__all__ = [
    "BLIND_FILE",
    "BLIND_FILE_B",
    "BLIND_FILE_C",
    "BLIND_FILE_D",
    "BLIND_FILE_E",
    "BLIND_FILE_F",
    "BLIND_FILE_G",
    "BLIND_FILE_H",
    "BLIND_FILE_I",
    "BLIND_FILE_J",
    "BLIND_FILE_K",
    "BLIND_FILE_L",
    "BLIND_FILE_M",
    "BLIND_FILE_N",
    "BLIND_FILE_O",
    "BLIND_FILE_P",
    "BLIND_FILE_Q",
    "BLIND_FILE_R",
    "BLIND_FILE_S",
    "BLIND_FILE_T",
    "BLIND_FILE_U",
    "BLIND_FILE_V",
    "BLIND_FILE_W",
    "BLIND_FILE_X",
    "BLIND_NOTES",
    "HELD_OUT_NOTES",
    "HELD_OUT_SETS",
    "INDEPENDENT_NOTES",
    "LAST_NOTES",
    "MARKED_SETS",
    "NEGATIVE_KINDS",
    "SIXTH_NOTES",
    "UNSEEN_NOTES",
    "LabelledText",
    "make_corpus",
    "marked_notes",
    "table",
]

E = Entity
_T = TypeVar("_T")
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
TO_ASCII = str.maketrans("０１２３４５６７８９＋（）", "0123456789+()")

NEGATIVE_KINDS = (
    "order_number", "tracking_number", "invoice_number", "amount", "date", "wrong_check_id",
    "impossible_date_id", "luhn_fail_card", "hotline", "no_mobile_prefix", "version", "ip",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One text and its ground truth, as ``(start, end, entity)`` code-point spans.

    ``negatives`` holds ``(start, end, kind)`` for the hard negatives placed in
    the text; they are not PII and no detector should report them.
    """

    text: str
    spans: list[tuple[int, int, str]]
    negatives: list[tuple[int, int, str]] = field(default_factory=list)


class _Builder:
    """Concatenates pieces and records the code-point span of labelled ones."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[tuple[int, int, str]] = []
        self.negatives: list[tuple[int, int, str]] = []

    def add(self, piece: str) -> _Builder:
        self.parts.append(piece)
        self.pos += len(piece)
        return self

    def pii(self, entity: Entity, value: str) -> _Builder:
        self.spans.append((self.pos, self.pos + len(value), str(entity)))
        return self.add(value)

    def neg(self, kind: str, value: str) -> _Builder:
        self.negatives.append((self.pos, self.pos + len(value), kind))
        return self.add(value)

    def build(self) -> LabelledText:
        return LabelledText("".join(self.parts), self.spans, self.negatives)


# --- reference tables ---------------------------------------------------------------------

# County-level codes (GB/T 2260); an ID is redrawn until stdnum accepts code and birth year.
_REGIONS = (
    "110101 110102 110105 110108 120101 120103 310101 310104 310105 310106 310110 320102 "
    "320104 320105 320106 320111 320113 320114 320115 320121 320205 320211 320302 320303 "
    "320402 320404 320411 320505 320506 320507 320583 320612 320706 320803 320902 321002 "
    "321102 321202 321302 330102 330106 340104 350102 360102 370102 410105 420102 420106 "
    "430102 440103 440106 440304 440305 450103 500103 510104 510107 520102 530102 610103 "
    "620102 640104"
).split()
_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 "
    "166 172 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()
_AREA_CODES = (
    "010 020 021 022 023 024 025 027 028 029 0510 0511 0512 0513 0514 0515 0516 0517 "
    "0518 0519 0523 0527 0571 0574 0591 0731 0755 0757 0769 0871"
).split()
_EMAIL_DOMAINS = (
    "qq.com 163.com 126.com sina.com sina.cn sohu.com foxmail.com aliyun.com 139.com "
    "yeah.net gmail.com outlook.com hotmail.com nju.edu.cn seu.edu.cn jiangsu.gov.cn"
).split()
_CARD_BINS = ("622202", "622848", "621700", "621661", "622588", "622262", "621799",
              "623058", "625912", "622908", "621226", "622700")  # fmt: skip
_OTHER_BINS = ("436742", "438088", "524047", "552599", "356833", "402674")
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# (province or "" for a municipality, city, district, streets)
_PLACES = (
    ("江苏省", "南京市", "玄武区", ("中山路", "北京东路", "珠江路", "龙蟠路")),
    ("江苏省", "南京市", "鼓楼区", ("中山北路", "汉中路", "广州路", "湖南路")),
    ("江苏省", "南京市", "建邺区", ("江东中路", "河西大街", "庐山路")),
    ("江苏省", "南京市", "江宁区", ("天元中路", "双龙大道", "胜太路")),
    ("江苏省", "苏州市", "姑苏区", ("人民路", "干将西路", "十全街")),
    ("江苏省", "苏州市", "吴中区", ("东吴北路", "宝带西路")),
    ("江苏省", "无锡市", "梁溪区", ("解放北路", "中山路", "学前街")),
    ("江苏省", "常州市", "天宁区", ("延陵西路", "和平北路")),
    ("江苏省", "徐州市", "云龙区", ("和平路", "民主南路")),
    ("江苏省", "南通市", "崇川区", ("工农路", "青年中路")),
    ("江苏省", "扬州市", "广陵区", ("文昌中路", "运河南路")),
    ("江苏省", "镇江市", "京口区", ("中山东路", "学府路")),
    ("浙江省", "杭州市", "西湖区", ("文三路", "天目山路", "教工路")),
    ("广东省", "广州市", "天河区", ("天河路", "体育西路", "黄埔大道西")),
    ("广东省", "深圳市", "南山区", ("深南大道", "科技南十二路", "后海大道")),
    ("四川省", "成都市", "武侯区", ("人民南路四段", "科华北路")),
    ("湖北省", "武汉市", "洪山区", ("珞喻路", "雄楚大道")),
    ("山东省", "济南市", "历下区", ("泉城路", "经十路")),
    ("", "上海市", "浦东新区", ("世纪大道", "张杨路", "陆家嘴环路")),
    ("", "上海市", "徐汇区", ("漕溪北路", "肇嘉浜路")),
    ("", "北京市", "朝阳区", ("建国路", "朝阳北路", "东三环中路")),
    ("", "北京市", "海淀区", ("中关村大街", "学院路")),
)  # fmt: skip
_ESTATES = ("阳光花园", "金陵世纪花园", "翠屏山庄", "银城东苑", "万科城", "碧桂园", "香榭里")
_EMOJI = ("", "", "", "", " 🙏", " 😊", "👍", " 🚗")
# Astral-plane and combining characters ahead of spans tell code points from UTF-16 units.
_NOTE_OPENERS = ("", "", "", "", "", "", "📌", "☎️ ", "【急】", "🔔 ", "👉")


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _weighted(r: random.Random, table: tuple[tuple[float, _T], ...]) -> _T:
    return r.choices([v for _, v in table], weights=[w for w, _ in table])[0]


def _birth(r: random.Random, lo: int, hi: int) -> dt.date:
    start = dt.date(lo, 1, 1).toordinal()
    return dt.date.fromordinal(r.randint(start, dt.date(hi, 12, 31).toordinal()))


# --- loose readings, used only to keep negatives unambiguous ------------------------------


def _compact(value: str) -> str:
    return re.sub(r"[\s\-·()]", "", value.translate(TO_ASCII)).upper()


def _date_ok(yyyymmdd: str) -> bool:
    try:
        day = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= day.year <= 2025


def reads_as_pii(value: str) -> bool:
    """Whether a string could pass for a positive under loose rules (no region table)."""
    c = _compact(value)
    if c.startswith("+86") or c.startswith("0086"):
        c = c[3:] if c.startswith("+86") else c[4:]
    if re.fullmatch(r"\d{17}[\dX]", c) and ric.calc_check_digit(c) == c[-1] and _date_ok(c[6:14]):
        return True
    if re.fullmatch(r"[1-8]\d{14}", c) and _date_ok("19" + c[6:12]):
        return True
    if c.isdigit() and 16 <= len(c) <= 19 and luhn.is_valid(c):
        return True
    if re.fullmatch(r"1[3-9]\d{9}", c) or re.fullmatch(r"0\d{2,3}[2-8]\d{6,7}", c):
        return True
    return len(c) == 18 and uscc.is_valid(c)


# --- positives ------------------------------------------------------------------------------


def _id_parts(r: random.Random, lo: int, hi: int) -> tuple[str, dt.date]:
    while True:
        region, birth = r.choice(_REGIONS), _birth(r, lo, hi)
        body = f"{region}{birth:%Y%m%d}{_digits(r, 3)}"
        if ric.is_valid(body + ric.calc_check_digit(body + "0")):
            return region, birth


def resident_id(r: random.Random) -> str:
    """An 18-char ID (plain, lower-case x, or grouped 6-8-4) or a 15-digit first-generation ID."""
    form = _weighted(r, ((68, "plain"), (8, "lower_x"), (10, "grouped"), (14, "old")))
    if form == "old":  # issued before 2004: YYMMDD birth, no check character
        while True:
            region, birth = _id_parts(r, 1945, 1989)
            seq = _digits(r, 3)
            full = f"{region}{birth:%Y%m%d}{seq}"
            if ric.is_valid(full + ric.calc_check_digit(full + "0")):
                return f"{region}{birth:%y%m%d}{seq}"
    while True:
        region, birth = _id_parts(r, 1950, 2010)
        body = f"{region}{birth:%Y%m%d}{_digits(r, 3)}"
        check = ric.calc_check_digit(body + "0")
        if form != "lower_x" or check == "X":
            break
    value = body + check
    if form == "lower_x":
        return value.lower()
    if form == "grouped":
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    return value


def phone(r: random.Random) -> str:
    """A mainland mobile (many formats) or a landline with its area code."""
    if r.random() < 0.25:
        area, local = r.choice(_AREA_CODES), r.choice("2345678") + _digits(r, 7)
        return _weighted(r, (
            (50, f"{area}-{local}"), (15, f"{area} {local}"), (20, f"({area}){local}"),
            (5, f"（{area}）{local}"), (10, f"{area}{local}"),
        ))  # fmt: skip
    m = r.choice(_MOBILE_PREFIXES) + _digits(r, 8)
    spaced, dashed = f"{m[:3]} {m[3:7]} {m[7:]}", f"{m[:3]}-{m[3:7]}-{m[7:]}"
    return _weighted(r, (
        (35, m), (12, spaced), (10, dashed), (8, "+86" + m), (8, "+86 " + m),
        (5, "+86 " + spaced), (4, "+86-" + m), (4, "0086" + m), (4, "0086 " + spaced),
        (2, "0086-" + m), (8, m.translate(FULL_WIDTH)),
    ))  # fmt: skip


def email(r: random.Random, fake: Faker) -> str:
    local = _weighted(r, (
        (45, fake.user_name()), (20, str(r.randint(10_000, 3_999_999_999))),
        (15, f"{fake.last_romanized_name()}.{fake.first_romanized_name()}".lower()),
        (10, f"{fake.first_romanized_name().lower()}_{r.randint(1, 99)}"),
        (10, fake.user_name() + str(r.randint(1980, 2005))),
    ))  # fmt: skip
    domain = fake.domain_name() if r.random() < 0.2 else r.choice(_EMAIL_DOMAINS)
    return f"{local}@{domain}"


def bank_card(r: random.Random) -> str:
    """16-19 digits passing Luhn; mostly 62-prefixed UnionPay, grouped by 4 or not."""
    if r.random() < 0.78:
        bin_ = r.choice(_CARD_BINS)
        n = _weighted(r, ((55, 19), (33, 16), (6, 17), (6, 18)))
    else:
        bin_, n = r.choice(_OTHER_BINS), 16
    while True:
        body = bin_ + _digits(r, n - 7)
        card = body + luhn.calc_check_digit(body)
        if not (len(card) == 18 and (ric.is_valid(card) or uscc.is_valid(card))):
            break
    if r.random() < 0.3:
        return " ".join(card[i : i + 4] for i in range(0, n, 4))
    return card


def passport(r: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return _weighted(r, (
        (55, "E" + _digits(r, 8)), (25, "G" + _digits(r, 8)),
        (20, "E" + r.choice(letters) + _digits(r, 7)),
    ))  # fmt: skip


def _mixed_plate_tail(r: random.Random) -> str:
    tail = list(_digits(r, 5))
    for k in r.sample(range(5), r.choice((1, 1, 2))):  # one or two letters, anywhere
        tail[k] = r.choice(_PLATE_LETTERS)
    return "".join(tail)


def plate(r: random.Random) -> str:
    """Ordinary (5 characters), new-energy (6) and coach plates, with or without a dot."""
    province = r.choice(_PLATE_PROVINCES)
    city = r.choice(_PLATE_LETTERS[:14] if province == "苏" else _PLATE_LETTERS)
    tail = _weighted(r, (
        (45, _digits(r, 5)),
        (20, _mixed_plate_tail(r)),
        (20, r.choice("DF") + r.choice(_PLATE_LETTERS + "0123456789") + _digits(r, 4)),
        (10, _digits(r, 5) + r.choice("DF")),
        (5, _digits(r, 4) + "学"),
    ))  # fmt: skip
    sep = _weighted(r, ((60, ""), (30, "·"), (10, " ")))
    return f"{province}{city}{sep}{tail}"


def uscc_code(r: random.Random) -> str:
    # Registering authority and kind: 9x enterprises, 1x public bodies, 5x social organisations.
    head = _weighted(r, ((80, "9" + r.choice("123")), (12, "1" + r.choice("123")),
                         (8, "5" + r.choice("123"))))  # fmt: skip
    if r.random() < 0.4:
        org = "MA" + "".join(r.choice(_USCC_ALPHABET) for _ in range(7))
    else:
        org = _digits(r, 8) + r.choice("0123456789X")
    body = head + r.choice(_REGIONS) + org
    return body + uscc.calc_check_digit(body)


def address(r: random.Random) -> str:
    """Province (unless a municipality or left out), city, district, street, number, unit."""
    province, city, district, streets = r.choice(_PLACES)
    head = f"{province}{city}" if province and r.random() < 0.65 else city
    value = f"{head}{district}{r.choice(streets)}{r.randint(1, 999)}号"
    return value + _weighted(r, (
        (40, ""),
        (20, f"{r.randint(1, 30)}栋{r.randint(1, 4)}单元{r.randint(1, 33)}0{r.randint(1, 4)}室"),
        (15, f"{r.choice(_ESTATES)}{r.randint(1, 40)}幢{r.randint(101, 2804)}室"),
        (15, f"{r.randint(1, 20)}号楼{r.randint(101, 2208)}"),
        (10, f"{r.choice('ABCD')}座{r.randint(3, 30)}楼"),
    ))  # fmt: skip


def person(fake: Faker) -> str:
    return str(fake.last_name()) + str(fake.first_name())


# --- hard negatives -----------------------------------------------------------------------


def _unambiguous(draw: Callable[[], str]) -> str:
    while True:
        value = draw()
        if not reads_as_pii(value):
            return value


def negative(r: random.Random, kind: str, fake: Faker) -> str:
    """A value of ``kind`` (see :data:`NEGATIVE_KINDS`) that no positive rule accepts."""

    def wrong_check() -> str:
        region, birth = _id_parts(r, 1950, 2010)
        body = f"{region}{birth:%Y%m%d}{_digits(r, 3)}"
        good = ric.calc_check_digit(body + "0")
        return body + r.choice([c for c in "0123456789X" if c != good])

    def impossible_date() -> str:
        year = r.randint(1950, 2005)
        mmdd = r.choice(("1307", "1315", "0230", "0231", "0431", "0631", "0932", "0000",
                         "0100", "1232", "2001"))  # fmt: skip
        body = f"{r.choice(_REGIONS)}{year}{mmdd}{_digits(r, 3)}"
        return body + ric.calc_check_digit(body + "0")

    def luhn_fail() -> str:
        body = r.choice(_CARD_BINS) + _digits(r, r.choice((16, 17, 18, 19)) - 6)
        bad = str((int(luhn.calc_check_digit(body[:-1])) + r.randint(1, 9)) % 10)
        card = body[:-1] + bad
        return (
            " ".join(card[i : i + 4] for i in range(0, len(card), 4)) if r.random() < 0.3 else card
        )

    def day() -> dt.date:
        return _birth(r, 2018, 2025)

    draws: dict[str, Callable[[], str]] = {
        "order_number": lambda: r.choice((
            f"{day():%Y%m%d}{_digits(r, r.choice((10, 11)))}",
            r.choice("3456") + _digits(r, 18), f"E{day():%Y%m%d}{_digits(r, 6)}",
        )),
        "tracking_number": lambda: r.choice((
            "SF" + r.choice("1234") + _digits(r, 12), "YT" + r.choice("3456789") + _digits(r, 12),
            "JDVA" + r.choice("123") + _digits(r, 10), "JT" + _digits(r, 13),
            "7" + _digits(r, 13), "9" + _digits(r, 12),
        )),
        "invoice_number": lambda: r.choice((
            r.choice("01") + r.choice(("3200", "3100", "1100", "4400")) + str(r.randint(18, 24))
            + r.choice("0123") + _digits(r, 4),
            str(r.randint(22, 25)) + r.choice(("32", "31", "11", "44")) + "2" + _digits(r, 15),
            _digits(r, 8),
        )),
        "amount": lambda: r.choice((
            f"¥{r.randint(1, 99_999):,}.{r.randint(0, 99):02d}",
            f"￥{r.randint(100, 9_999_999):,}.00", f"{r.randint(1, 9_999_999_999)}.00 元",
            f"{r.randint(1, 99_999)}元", f"RMB {r.randint(1, 999_999):,}.{r.randint(0, 99):02d}",
        )),
        "date": lambda: r.choice((
            f"{day():%Y-%m-%d}", f"{day():%Y%m%d}", f"{day():%Y/%m/%d %H:%M}".replace(
                "00:00", f"{r.randint(8, 22):02d}:{r.randint(0, 59):02d}"),
            f"{day().year}年{day().month}月{day().day}日",
            f"{day():%Y-%m-%d} 14:{r.randint(0, 59):02d}:08",
        )),
        "wrong_check_id": wrong_check,
        "impossible_date_id": impossible_date,
        "luhn_fail_card": luhn_fail,
        "hotline": lambda: r.choice((
            "400-820-8820", "400 820 8820", "4006-695-526", "800-810-8888", "95588", "95533",
            "95566", "12345", "10086", "10010", "12315", "96110", "12306", "4008208820",
        )),
        "no_mobile_prefix": lambda: r.choice(("10", "11", "12")) + _digits(r, 9),
        "version": lambda: r.choice((
            f"v{r.randint(1, 12)}.{r.randint(0, 30)}.{r.randint(0, 200)}",
            f"Chrome/{r.randint(100, 130)}.0.{r.randint(1000, 6999)}.{r.randint(10, 250)}",
            f"10.0.{r.randint(17000, 26100)}.{r.randint(1000, 4999)}",
            f"build {day():%Y%m%d}.{r.randint(1, 999)}",
        )),
        "ip": lambda: r.choice((
            str(fake.ipv4()), f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
            f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        )),
    }  # fmt: skip
    return _unambiguous(draws[kind])


# Negatives that look most like the asserted entities (IDs, cards, mobiles) are drawn most.
_NEGATIVE_WEIGHTS = (3, 2, 1.5, 1, 1, 3, 3, 3, 2, 2, 1, 1)


def _negative_kind(r: random.Random) -> str:
    return r.choices(NEGATIVE_KINDS, weights=_NEGATIVE_WEIGHTS)[0]


_NEG_LABELS = {
    "order_number": ("订单号", "订单编号", "交易单号"), "tracking_number": ("快递单号", "运单号"),
    "invoice_number": ("发票号码", "发票代码"), "amount": ("金额", "实付", "合计"),
    "date": ("日期", "下单时间", "办理时间"), "wrong_check_id": ("身份证号", "证件号码"),
    "impossible_date_id": ("身份证号", "证件号"), "luhn_fail_card": ("卡号", "银行卡号"),
    "hotline": ("客服热线", "服务电话"), "no_mobile_prefix": ("流水号", "工单号", "编号"),
    "version": ("版本", "客户端版本"), "ip": ("IP", "登录IP"),
}  # fmt: skip


# --- texts ----------------------------------------------------------------------------------

_POSITIVE: dict[str, Callable[[random.Random, Faker], str]] = {
    E.PERSON: lambda r, f: person(f),
    E.CN_RESIDENT_ID: lambda r, f: resident_id(r),
    E.PHONE_NUMBER: lambda r, f: phone(r),
    E.EMAIL_ADDRESS: email,
    E.BANK_CARD: lambda r, f: bank_card(r),
    E.CN_PASSPORT: lambda r, f: passport(r),
    E.CN_LICENSE_PLATE: lambda r, f: plate(r),
    E.CN_ADDRESS: lambda r, f: address(r),
    E.CN_USCC: lambda r, f: uscc_code(r),
}
_FILLERS: dict[str, Callable[[random.Random, Faker], str]] = {
    "company": lambda r, f: str(f.company()),
    "shop": lambda r, f: str(f.company_prefix()) + r.choice(("旗舰店", "专营店", "超市")),
    "carrier": lambda r, f: r.choice(("顺丰", "圆通", "京东", "中通", "极兔", "EMS")),
    "last4": lambda r, f: _digits(r, 4),
}
_FIELD_LABELS = {
    E.PERSON: ("姓名", "联系人", "申请人", "收件人", "户主"),
    E.PHONE_NUMBER: ("手机", "电话", "联系电话", "手机号", "手机号码"),
    E.CN_RESIDENT_ID: ("身份证号", "身份证", "证件号码", "公民身份号码", "身份证号码"),
    E.EMAIL_ADDRESS: ("邮箱", "电子邮箱", "E-mail", "Email"),
    E.CN_ADDRESS: ("地址", "住址", "家庭住址", "通讯地址", "户籍地址"),
    E.BANK_CARD: ("银行卡号", "卡号", "收款账号", "开户账号"),
    E.CN_PASSPORT: ("护照号", "护照号码", "护照"),
    E.CN_LICENSE_PLATE: ("车牌", "车牌号", "车牌号码"),
    E.CN_USCC: ("统一社会信用代码", "信用代码"),
}  # fmt: skip
# How often each entity is drawn for a bare cell or a form field.
_ENTITY_WEIGHTS = (
    (20, E.PHONE_NUMBER), (18, E.CN_RESIDENT_ID), (12, E.EMAIL_ADDRESS), (12, E.BANK_CARD),
    (12, E.PERSON), (10, E.CN_ADDRESS), (5, E.CN_PASSPORT), (6, E.CN_LICENSE_PLATE),
    (5, E.CN_USCC),
)  # fmt: skip
_NOTES = (
    "{PERSON}反映其车辆{CN_LICENSE_PLATE}于{neg:date}在{CN_ADDRESS}附近被刮擦，联系电话{PHONE_NUMBER}。",
    "客户{PERSON}来电称无法登录，注册邮箱{EMAIL_ADDRESS}，请回电{PHONE_NUMBER}。",
    "患者{PERSON}，身份证{CN_RESIDENT_ID}，家住{CN_ADDRESS}，既往体健。",
    "{PERSON}持护照{CN_PASSPORT}于{neg:date}入境，入住{CN_ADDRESS}，紧急联系人{PERSON}（{PHONE_NUMBER}）。",
    "请将发票寄至{CN_ADDRESS}，收件人{PERSON}，电话{PHONE_NUMBER}，谢谢",
    "已核实{PERSON}的银行卡{BANK_CARD}，退款{neg:amount}将于3个工作日内到账。",
    "{PERSON}你好！我的新邮箱是{EMAIL_ADDRESS}，手机换成{PHONE_NUMBER}了",
    "今天在{CN_ADDRESS}看到{CN_LICENSE_PLATE}违停，已拍照",
    "经办人{PERSON}于{neg:date}办理，证件号码{CN_RESIDENT_ID}，联系电话{PHONE_NUMBER}",
    "订单{neg:order_number}已由{carrier}发出，运单号{neg:tracking_number}，收件人{PERSON}，{PHONE_NUMBER}",
    "工资卡{BANK_CARD}，户名{PERSON}，开户行中国建设银行南京分行",
    "{PERSON}的车{CN_LICENSE_PLATE}停在地库B2，有事打{PHONE_NUMBER}",
    "麻烦把合同发到{EMAIL_ADDRESS}，抄送{EMAIL_ADDRESS}，我是{PERSON}",
    "退款申请：账户{BANK_CARD}，持卡人{PERSON}，身份证{CN_RESIDENT_ID}，金额{neg:amount}",
    "{PERSON}（{CN_RESIDENT_ID}）于{neg:date}在{CN_ADDRESS}办理居住证",
    "快递放在{CN_ADDRESS}门卫，取件人{PERSON}，手机尾号{last4}",
    "{PERSON}的身份证号是{CN_RESIDENT_ID}，银行卡{BANK_CARD}，手机{PHONE_NUMBER}",
    "联系{PERSON}：{PHONE_NUMBER}或{PHONE_NUMBER}，邮箱{EMAIL_ADDRESS}",
)  # fmt: skip
#: Held-out notes (``make_corpus(..., held_out=True)``), written from administrative prose
#: after the name rules were shared and never tuned on: names before 于 / 名下 / 、 / 两人,
#: after 本人, and in places the rules do not read (请…本人, 收到…交来, 经手人 without a colon).
HELD_OUT_NOTES = (
    "{PERSON}于{neg:date}来窗口咨询社保转移事宜，联系电话{PHONE_NUMBER}",
    "经查，{PERSON}名下登记车辆{CN_LICENSE_PLATE}，登记住址为{CN_ADDRESS}。",
    "{PERSON}、{PERSON}两人于{neg:date}在{CN_ADDRESS}发生纠纷，已调解",
    "本人{PERSON}，身份证号{CN_RESIDENT_ID}，自愿申请办理银行卡{BANK_CARD}挂失",
    "请{PERSON}本人携带身份证到三号窗口办理",
    "今收到{PERSON}交来押金{neg:amount}，经手人{PERSON}",
    "会议由{PERSON}主持，{PERSON}作工作报告，{PERSON}记录",
    "{company}法定代表人为{PERSON}，股东{PERSON}持股百分之六十",
)  # fmt: skip
#: A second held-out set, written on 2026-11-28 before that day's name rules
#: (``make_corpus(..., notes=UNSEEN_NOTES)``): role words, verbs and particles around names
#: in reports, certificates, court and family records. Its false alarms were looked at once
#: (a preposition read as a surname, 向), so it is no longer unseen in the strict sense.
UNSEEN_NOTES = (
    "{PERSON}同志因工作调动，不再担任办公室主任职务",
    "兹证明{PERSON}系我单位职工，身份证号{CN_RESIDENT_ID}",
    "转账给{PERSON}，卡号{BANK_CARD}，备注房租",
    "{PERSON}和{PERSON}于{neg:date}登记结婚",
    "寄给{PERSON}的快递已退回，原地址{CN_ADDRESS}",
    "此事已向{PERSON}汇报，{PERSON}要求本周内办结",
    "借款人{PERSON}向出借人{PERSON}借款{neg:amount}元",
    "{PERSON}的儿子{PERSON}在{CN_ADDRESS}上学",
    "值班人员：{PERSON}、{PERSON}，值班电话{PHONE_NUMBER}",
    "据{PERSON}介绍，该路段夜间照明不足",
    "现将{PERSON}等三人的材料报送审核",
    "被申请人{PERSON}未按期履行判决",
    "经理{PERSON}签字确认后，由出纳{PERSON}付款",
    "{PERSON}说他上周已经把材料交给了{PERSON}",
)  # fmt: skip
#: A third held-out set, written on 2026-11-28 by a helper that saw none of the project's
#: code, rules or corpora (``make_corpus(..., notes=INDEPENDENT_NOTES)``): the one set no
#: name rule was written or tuned against; first scored after that day's rule change.
INDEPENDENT_NOTES = (
    "{PERSON}于{neg:date}在本行柜台办理借记卡挂失，卡号{BANK_CARD}，经办柜员{PERSON}已核对其身份证{CN_RESIDENT_ID}。",
    "患者由女儿{PERSON}陪同入院，主治医生{PERSON}建议家属尽快签署手术知情同意书。",
    "原告{PERSON}诉被告{company}劳动争议一案，本院已于{neg:date}向{PERSON}送达开庭传票。",
    "报警人称其电动车在{CN_ADDRESS}楼下被盗，民警{PERSON}和辅警{PERSON}到场勘查后登记在案。",
    "三年级二班{PERSON}同学本周因病请假，班主任已电话通知其父亲{PERSON}，联系电话{PHONE_NUMBER}。",
    "业主{PERSON}反映卫生间天花板渗水，物业维修组派{PERSON}前往{CN_ADDRESS}查看，维修费{neg:amount}元由楼上住户承担。",
    "经部门讨论，同意{PERSON}自{neg:date}起转正，试用期考核材料由{PERSON}负责归档。",
    "户主{PERSON}申请将外孙{PERSON}的户口迁入本户，迁入地址为{CN_ADDRESS}。",
    "本次会议由{PERSON}主持，{PERSON}、{PERSON}列席，议定事项由综合办公室跟进落实。",
    "客户来电称包裹显示已签收但本人未收到，经核实系门卫{PERSON}代签，已替{PERSON}登记投诉并向其致歉。",
    "昨日下午，环卫工人{PERSON}在公交站旁拾到一个钱包，内有现金{neg:amount}元，失主{PERSON}说一定要当面道谢。",
    "本次复核名单中有一户（户主{PERSON}）家庭收入超标，已告知{PERSON}于{neg:date}前补交材料，其身份证号码为{CN_RESIDENT_ID}。",
    "本人因长期在外地工作，特委托{PERSON}代为办理房屋过户手续，受托人电话{PHONE_NUMBER}，委托人{PERSON}。",
    "请把合同原件交给{PERSON}，由她统一转交{company}法务部盖章。",
    "{PERSON}的血常规结果已经出来了，麻烦通知{PERSON}明早八点前到门诊三楼复查。",
    "经调解，被告{PERSON}同意在{neg:date}前支付欠款{neg:amount}元，收款人{PERSON}，收款账号{BANK_CARD}。",
    "“东西都是我自己放进去的。”{PERSON}对办案民警{PERSON}说道，随后在询问笔录上签字捺印。",
    "下周五家长会请各位家长准时参加，如有疑问可以跟{PERSON}老师沟通，或发邮件至{EMAIL_ADDRESS}。",
    "{PERSON}啊，你家的车又挡住消防通道了，保安{PERSON}刚才已经打过你电话{PHONE_NUMBER}，麻烦尽快挪一下。",
    "{PERSON}已于{neg:date}完成离职交接，笔记本电脑及门禁卡由{PERSON}签收，剩余工资{neg:amount}元随当月工资一并发放。",
)  # fmt: skip
#: A fourth held-out set, written on 2026-11-28 by another helper that saw none of the
#: project's code, rules or corpora (``make_corpus(..., notes=BLIND_NOTES)``); first scored
#: once the name rules of that day were final, then looked at for their misses.
BLIND_NOTES = (
    "{PERSON}领取养老金的银行账户已变更为{BANK_CARD}，经办人{PERSON}于{neg:date}在系统中完成登记。",
    "低保复核时{PERSON}反映其母亲长期卧床无人照料，社区网格员{PERSON}已上门核实，回访电话{PHONE_NUMBER}。",
    "纳税人{PERSON}委托{PERSON}代为办理个人所得税汇算，补缴税款金额{neg:amount}，已于{neg:date}入库。",
    "患者{PERSON}因反复胸闷入院，主治医生{PERSON}建议完善冠脉造影检查，家属{PERSON}签字同意。",
    "药师{PERSON}已经把降压药给了{PERSON}的儿子，并叮嘱饭后服用、每日一次。",
    "原告{PERSON}与被告{PERSON}因房屋租赁合同纠纷诉至本院，本院受理后适用简易程序，由审判员{PERSON}独任审理。",
    "经人民调解委员会主持调解，{PERSON}同意向{PERSON}一次性支付赔偿款，金额{neg:amount}，双方当场签订调解协议。",
    "报警人称其外甥{PERSON}自{neg:date}起失联，最后出现在{CN_ADDRESS}附近，值班民警{PERSON}已调取周边监控。",
    "班主任{PERSON}提议对{PERSON}同学予以通报表扬，因其本学期多次主动帮助学习困难的同学。",
    "今天下午由{PERSON}的姑姑来园接孩子，请{PERSON}老师核对接送卡后再放行。",
    "社区主任{PERSON}、楼长{PERSON}和志愿者{PERSON}等人冒雨走访了辖区内的独居老人。",
    "{CN_ADDRESS}业主{PERSON}反映楼上卫生间漏水，物业客服已通知维修工{PERSON}明早上门查看。",
    "员工{PERSON}于{neg:date}与{company}签订劳动合同，试用期三个月，紧急联系人为其配偶{PERSON}。",
    "{PERSON}持本人身份证来柜台申请挂失借记卡{BANK_CARD}，柜员{PERSON}为其办理了临时挂失。",
    "被保险人{PERSON}于{neg:date}发生交通事故，理赔专员{PERSON}审核后核定赔付金额{neg:amount}，款项将转入其账户{BANK_CARD}。",
    "快递员{PERSON}说包裹已经放到小区驿站了，麻烦让{PERSON}下班顺路取一下，取件电话{PHONE_NUMBER}。",
    "{PERSON}，你好！您退回的耳机仓库已签收，客服主管{PERSON}已批准退款，金额{neg:amount}，预计三个工作日内原路到账。",
    "刚跟{PERSON}通了电话，周六的聚餐改到晚上七点，别忘了把{PERSON}也拉进群里。",
    "会议由{PERSON}主持，{PERSON}作年度工作总结，{PERSON}就下一阶段招聘计划提出了具体意见。",
    "经评审委员会研究决定，授予{PERSON}、{PERSON}与{PERSON}三位同志“年度优秀员工”称号，奖金由{company}统一发放。",
    "{PERSON}同志因病医治无效，于{neg:date}在家中安详离世，享年八十二岁；其子{PERSON}及亲属定于本周日举行告别仪式。",
    "记者从市公安局获悉，热心市民{PERSON}在地铁站拾得钱包后主动上交，失主（{PERSON}）随后送来锦旗致谢。",
    "招生办已把录取材料发送至{EMAIL_ADDRESS}，请{PERSON}替孩子核对信息，如有疑问可咨询招生老师{PERSON}。",
    "经查，{PERSON}系{company}法定代表人，其辩称与{PERSON}之间不存在借贷关系，但证人{PERSON}认为双方确有资金往来。",
)  # fmt: skip
#: A fifth held-out set, written on 2026-11-28 by a third helper that saw none of the
#: project's code, rules or corpora (``make_corpus(..., notes=LAST_NOTES)``); scored blind
#: at three stages of that day's name rules (see the README), then looked at.
LAST_NOTES = (
    "12345工单：市民{PERSON}来电反映，住所{CN_ADDRESS}，楼下烧烤店夜间油烟和噪音扰民已持续半月，回访电话{PHONE_NUMBER}。已转街道办处理，承办人{PERSON}。",
    "社区调解记录：{PERSON}与楼上住户{PERSON}因卫生间漏水多次争吵，网格员上门查看后，双方同意各承担一半维修费用。",
    "经村两委会议研究，{PERSON}一家三口的宅基地纠纷移交镇司法所处理，由村主任{PERSON}负责跟进。",
    "本季度高龄津贴发放名单：{PERSON}、{PERSON}及{PERSON}，每人金额{neg:amount}，由民政专干统一发放至本人社保卡。",
    "患者{PERSON}，身份证号{CN_RESIDENT_ID}，因社区获得性肺炎入院，经抗感染治疗后症状好转，于{neg:date}出院。主治医师：{PERSON}",
    "夜班护理记录：患者凌晨两点诉胸闷，值班护士{PERSON}立即通知{PERSON}医生，予吸氧后缓解，已告知陪护的儿子{PERSON}。",
    "处方药登记：购药人{PERSON}凭其母亲{PERSON}的处方购买阿莫西林胶囊两盒，药师已审核，回访电话{PHONE_NUMBER}。",
    "兹证明{PERSON}系{PERSON}的亲生女儿，二人亲属关系属实。本公证书于{neg:date}出具。",
    "本所受{company}委托，现就你方拖欠货款一事致函{PERSON}：请于收函后七日内支付欠款，金额{neg:amount}，逾期我方将依法起诉。承办律师：{PERSON}",
    "申请人{PERSON}诉称其在被申请人{company}工作期间未签订书面劳动合同，要求支付二倍工资差额；本案由仲裁员{PERSON}独任审理。",
    "本院认为，被告{PERSON}驾驶车辆未尽安全注意义务，应对原告{PERSON}的损失承担主要责任。",
    "110接警：{neg:date}晚报警人称其丈夫{PERSON}酒后砸坏家中物品，民警{PERSON}和{PERSON}出警到达{CN_ADDRESS}，当事人情绪已稳定。",
    "事故经过：{PERSON}驾驶电动自行车沿人民路由东向西行驶，与{PERSON}驾驶的小型轿车发生碰撞，致骑车人右腿骨折。",
    "各位家长：本周五下午召开家长会，请{PERSON}同学的家长提前半小时到校，班主任{PERSON}有事需要当面沟通。",
    "学籍档案备注：该生原名{PERSON}，三年级时随母改名为{PERSON}，监护人手机{PHONE_NUMBER}。",
    "新员工入职登记：{PERSON}，身份证{CN_RESIDENT_ID}，工资卡{BANK_CARD}，试用期三个月，由部门经理{PERSON}带教。",
    "三月工资说明：因病假扣款金额{neg:amount}，已与{PERSON}本人核对无误；财务{PERSON}复核。",
    "客户{PERSON}来电称名下卡号{BANK_CARD}出现异地消费，坐席{PERSON}已协助临时冻结，并建议其尽快报警。",
    "理赔回访：被保险人{PERSON}的住院费用已审核完毕，赔付金额{neg:amount}，将转入受益人{PERSON}账户，如有疑问请发邮件至{EMAIL_ADDRESS}。",
    "投诉内容：骑手{PERSON}把外卖直接扔在门口也不打电话，汤全洒了，要求{company}给个说法。",
    "乘客反映司机{PERSON}故意绕路且态度恶劣，行程结束后还打电话骚扰，客服{PERSON}已记录并暂停该司机接单。",
    "出租方：{PERSON}；承租方：{PERSON}。房屋坐落于{CN_ADDRESS}，月租金{neg:amount} 元，押一付三。",
    "@{PERSON} 明天团建你先订一下餐厅吧，我跟{PERSON}说过了，他和{PERSON}晚点到。",
    "{PERSON}，你家快递放我这儿了，记得下班来拿。刚在小区门口碰见{PERSON}他爸，说{PERSON}考上研究生了！",
    "会议纪要（{neg:date}）：出席人员为{PERSON}、{PERSON}与{PERSON}，会议由{PERSON}主持，议定下季度预算方案。记录：{PERSON}",
    "{PERSON}同志在抗洪抢险中连续奋战三昼夜，成功转移群众四十余人，经研究决定授予其“优秀共产党员”称号。",
    "讣告：我们敬爱的父亲{PERSON}因病医治无效，于{neg:date}安详离世，享年八十三岁。孝子{PERSON}、孝女{PERSON}泣告。",
    "来电人称其邻居{PERSON}长期在楼道堆放杂物，多次劝说无果，要求物业处理。经办：{PERSON}",
    "低保复核：经入户调查，{PERSON}家庭人均月收入仍低于当地标准，建议继续享受；调查人（{PERSON}、{PERSON}）已签字确认。",
    "人事部请注意：{PERSON}已于{neg:date}办理离职，请将离职证明扫描件发至{EMAIL_ADDRESS}，并抄送给{PERSON}。",
)  # fmt: skip
#: A sixth held-out set, written on 2026-11-29 by a fourth helper that saw none of the
#: project's code, rules or corpora (``make_corpus(..., notes=SIXTH_NOTES)``); scored blind
#: with the rules of 2026-11-28 (see the README), then looked at.
SIXTH_NOTES = (
    "经审核，申报人{PERSON}提交的低保材料齐全，联系电话{PHONE_NUMBER}，现居{CN_ADDRESS}，拟于{neg:date}在社区公示栏公示。",
    "【查房记录】主治医生{PERSON}、护士长{PERSON}于{neg:date}查房，患者诉夜间胸闷加重，{PERSON}医生建议加做动态心电图。",
    "本院认为，被告{PERSON}与原告{PERSON}之间的民间借贷关系成立，被告应于判决生效后十日内返还借款{neg:amount}；原告诉讼代理人{PERSON}当庭表示无异议。",
    "{PERSON}于{neg:date}晚十时许到派出所报案，称其电动车在小区车棚被盗，证人{PERSON}也看到一名穿黑衣的可疑男子。",
    "客户{PERSON}（身份证号{CN_RESIDENT_ID}）来行申请借记卡挂失，原卡号{BANK_CARD}，已冻结；经办柜员：{PERSON}。",
    "被保险人{PERSON}于{neg:date}在国道发生交通事故，核定理赔金额{neg:amount}，受益人为其配偶{PERSON}，赔款已转入账户{BANK_CARD}。",
    "各位家长好，下周三的家长会由班主任{PERSON}老师主持，{PERSON}和{PERSON}两位同学的家长请提前十分钟到场，谢谢配合！",
    "物业通知：3号楼2单元漏水问题已由维修工{PERSON}处理完毕，业主{PERSON}的家里墙面受损部分由{company}承担修复费用{neg:amount}。",
    "亲，您好～系统显示收件人{PERSON}的包裹已签收，如果没收到可以联系骑手{PERSON}，电话{PHONE_NUMBER}哦，有问题随时找我们～",
    "入职登记：姓名：{PERSON}；应聘岗位：质检员；紧急联系人：表姐{PERSON}；邮箱：{EMAIL_ADDRESS}；报到日期：{neg:date}。",
    "网格长{PERSON}（{PHONE_NUMBER}）入户走访发现，独居老人{PERSON}腿脚不便，其监护人{PERSON}常年在外务工，建议纳入特困供养范围。",
    "兹证明{PERSON}与{PERSON}系父子关系，申请人{PERSON}名下房产坐落于{CN_ADDRESS}，本公证书自{neg:date}起生效。",
    "运单备注：寄件人{PERSON}，收件地址{CN_ADDRESS}，内有易碎品请轻拿轻放，派送前务必先打{PHONE_NUMBER}确认家里有人。",
    "舅舅{PERSON}刚在群里说了，明天他和{PERSON}一起开车过来，让我们别等他们吃饭了哈哈",
    "据{company}公告披露，公司创始人{PERSON}已于{neg:date}辞去董事长职务，由副总裁{PERSON}接任，市场对此反应平淡。",
    "出院小结：患者{PERSON}，女，58岁，身份证号{CN_RESIDENT_ID}，因“反复咳嗽两周”入院，住院费用共计{neg:amount}，由其女儿{PERSON}办理结算。",
    "接警员{PERSON}记录：报警人称邻居{PERSON}家中传出激烈争吵声，民警{PERSON}、{PERSON}到场后双方已调解。",
    "{PERSON}经理您好，附件是贵司{company}的对公开户资料清单，如有疑问请回复至{EMAIL_ADDRESS}，谢谢！",
    "带班领导：{PERSON}；值班人员：{PERSON}、{PERSON}；值班电话：{PHONE_NUMBER}。",
    "执行法官{PERSON}于{neg:date}前往被执行人位于{CN_ADDRESS}的住所，被执行人母亲称{PERSON}已外出打工，至今未归。",
    "刚才{PERSON}都说了不去了，你还叫他干嘛哈哈，要不问问{PERSON}女士今晚有没有空？",
    "【售后工单】买家反映收到的玻璃杯破损，客服{PERSON}已同意退款{neg:amount}，请仓库质检员{PERSON}核实退回商品后关闭工单。",
    "投保人：{PERSON}；证件号码：{CN_RESIDENT_ID}；联系电话：{PHONE_NUMBER}；保险代理人{PERSON}已完成双录。",
    "经学校研究决定，对在省级竞赛中获奖的{PERSON}同学予以通报表扬，同时感谢指导老师{PERSON}。",
    "关于{PERSON}同志任职的通知：经{company}党委研究决定，任命{PERSON}同志为财务部副经理，试用期自{neg:date}起算。",
    "代领人{PERSON}（与申请人{PERSON}系姑侄关系）代为领取残疾人两项补贴{neg:amount}，补贴统一发放至银行卡{BANK_CARD}。",
    "业主群消息：@{PERSON} 您家的快递放在门卫室了，保安{PERSON}师傅说今晚八点前来拿哦",
    "记者从市公安局获悉，犯罪嫌疑人{PERSON}因涉嫌电信诈骗已被依法刑事拘留，受害人{PERSON}累计被骗{neg:amount}，案件正在进一步侦办中。",
    "驾驶员{PERSON}反映，车辆在高速服务区抛锚，货物已由调度员{PERSON}安排接驳，预计{neg:date}送达{company}仓库。",
    "你好，我是{PERSON}的外婆，想问下她上周的体检报告出来了没有？可以发到我邮箱{EMAIL_ADDRESS}吗，或者打{PHONE_NUMBER}找我也行。",
)  # fmt: skip
_COMPANY = (
    "{company}，统一社会信用代码：{CN_USCC}，法定代表人：{PERSON}，注册地址：{CN_ADDRESS}，联系电话：{PHONE_NUMBER}",
    "销售方：{company}\n纳税人识别号：{CN_USCC}\n发票代码：{neg:invoice_number}\n价税合计：{neg:amount}",
    "{company}（{CN_USCC}）委托{PERSON}办理，经办人电话{PHONE_NUMBER}",
)  # fmt: skip
_RECEIPT = (
    "【{shop}】订单详情\n订单号：{neg:order_number}\n收货人：{PERSON}\n联系电话：{PHONE_NUMBER}\n"
    "收货地址：{CN_ADDRESS}\n实付金额：{neg:amount}\n下单时间：{neg:date}",
    "{shop} 购物小票\n流水号 {neg:no_mobile_prefix}\n会员手机 {PHONE_NUMBER}\n合计 {neg:amount}\n"
    "{neg:date}\n发票号码 {neg:invoice_number}",
    "运单号：{neg:tracking_number}（{carrier}）\n寄件人：{PERSON} {PHONE_NUMBER}\n"
    "收件人：{PERSON} {PHONE_NUMBER}\n收件地址：{CN_ADDRESS}",
)  # fmt: skip
_LOGS = (
    "[{neg:date}] user={EMAIL_ADDRESS} ip={neg:ip} client={neg:version} action=login",
    "{neg:date} 用户{PERSON}（{EMAIL_ADDRESS}）从{neg:ip}登录，客户端{neg:version}",
    "{neg:date} 向{PHONE_NUMBER}发送验证码，网关{neg:ip}",
)  # fmt: skip
_NEGATIVE_ONLY = (
    "如需帮助请致电客服热线{neg:hotline}，或拨打{neg:hotline}。",
    "订单{neg:order_number}已发货，{carrier}单号{neg:tracking_number}，预计{neg:date}送达。",
    "发票代码 {neg:invoice_number}，发票号码 {neg:invoice_number}，价税合计 {neg:amount}",
    "系统已升级至{neg:version}，服务器地址 {neg:ip}",
    "经核验，证件号码{neg:wrong_check_id}校验位错误，请重新填写。",
    "身份证号{neg:impossible_date_id}中的出生日期无效",
    "卡号{neg:luhn_fail_card}校验失败，请核对后重试",
    "流水号{neg:no_mobile_prefix}，交易金额{neg:amount}，交易时间{neg:date}",
    "订单编号{neg:order_number}，实付{neg:amount}",
    "身份证号码 {neg:wrong_check_id} 与登记信息不符",
    "收款卡号{neg:luhn_fail_card}，户名核对中，到账时间{neg:date}",
    "证件号{neg:impossible_date_id}，请核实出生日期",
    "来电号码{neg:no_mobile_prefix}无法识别，已转{neg:hotline}",
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{(neg:)?(\w+)\}")


def _fill(b: _Builder, template: str, r: random.Random, fake: Faker) -> None:
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        b.add(template[pos : m.start()])
        name = m.group(2)
        if m.group(1):
            b.neg(name, negative(r, name, fake))
        elif name in _FILLERS:
            b.add(_FILLERS[name](r, fake))
        else:
            b.pii(E(name), _POSITIVE[name](r, fake))
        pos = m.end()
    b.add(template[pos:])


def _bare(b: _Builder, r: random.Random, fake: Faker) -> None:
    if r.random() < 0.3:
        kind = _negative_kind(r)
        b.neg(kind, negative(r, kind, fake))
    else:
        entity = _weighted(r, _ENTITY_WEIGHTS)
        b.pii(entity, _POSITIVE[entity](r, fake))


def _form(b: _Builder, r: random.Random, fake: Faker) -> None:
    """Label-value fields such as ``联系人：张伟，手机 138 0013 8000，身份证号 3201…``."""
    fields: list[str] = [E.PERSON] if r.random() < 0.6 else []
    while len(fields) < r.randint(2, 5):
        fields.append(_weighted(r, _ENTITY_WEIGHTS))
    if r.random() < 0.35:
        fields.insert(r.randint(0, len(fields)), "neg:" + _negative_kind(r))
    between = r.choice(("，", "；", "  ", "\n", " | ", "，"))
    for k, name in enumerate(fields):
        if k:
            b.add(between)
        kind = name.removeprefix("neg:")
        labels = _NEG_LABELS[kind] if name.startswith("neg:") else _FIELD_LABELS[E(name)]
        label = r.choice(labels)
        joins: tuple[str, ...] = ("：", ":", " ") if label[-1].isascii() else ("：", ":", " ", "")
        b.add(label + r.choice(joins))
        if name.startswith("neg:"):
            b.neg(kind, negative(r, kind, fake))
        else:
            b.pii(E(name), _POSITIVE[name](r, fake))


def _text(r: random.Random, fake: Faker, notes: tuple[str, ...] | None = None) -> LabelledText:
    b = _Builder()
    shape = _weighted(r, ((24, "bare"), (28, "form"), (8, "receipt"), (22, "note"),
                          (6, "company"), (4, "log"), (10, "negative")))  # fmt: skip
    if notes is not None:
        _fill(b, r.choice(notes), r, fake)
    elif shape == "bare":
        _bare(b, r, fake)
    elif shape == "form":
        _form(b, r, fake)
    else:
        pool = {"receipt": _RECEIPT, "note": _NOTES, "company": _COMPANY, "log": _LOGS,
                "negative": _NEGATIVE_ONLY}[shape]  # fmt: skip
        template = r.choice(pool)
        stop = "。" if template.endswith("。") else ""
        if shape == "note":
            b.add(r.choice(_NOTE_OPENERS))
        _fill(b, template.removesuffix(stop), r, fake)
        if shape == "note" and r.random() < 0.2:  # a stray reference number or amount
            kind = _negative_kind(r)
            b.add("，" + r.choice(_NEG_LABELS[kind]) + "：").neg(kind, negative(r, kind, fake))
        b.add(stop)
        if shape == "note":
            b.add(r.choice(_EMOJI))
    return b.build()


def make_corpus(n: int, seed: int, notes: tuple[str, ...] | None = None) -> list[LabelledText]:
    """Generate ``n`` labelled texts; text ``i`` depends only on ``(seed, i)``.

    Args:
        n: Number of texts (at least 0).
        seed: Seed; the same seed always gives the same corpus.
        notes: Draw every text from these templates instead, such as
            :data:`HELD_OUT_NOTES` or :data:`UNSEEN_NOTES` (notes the name rules
            were not written against).

    Returns:
        The texts, each with its PII spans and its hard negatives.

    Raises:
        ValueError: If ``n`` is negative.

    Example:
        >>> corpus = make_corpus(5, seed=1)
        >>> all(corpus[i].text == make_corpus(5, seed=1)[i].text for i in range(5))
        True
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}; pass the number of texts wanted")
    fake = Faker("zh_CN")
    out: list[LabelledText] = []
    for i in range(n):
        fake.seed_instance(seed * 1_000_003 + i)
        out.append(_text(fake.random, fake, notes))
    return out


def table(corpus: list[LabelledText], column: str = "text") -> pl.DataFrame:
    """Lay a corpus out as a one-column frame; row ``i`` is ``corpus[i]``.

    Args:
        corpus: Texts from :func:`make_corpus`.
        column: Name of the text column.

    Returns:
        A frame with one ``String`` column.
    """
    return pl.DataFrame({column: pl.Series([t.text for t in corpus], dtype=pl.String)})


#: Every held-out notes set by name, in the order they were written.
HELD_OUT_SETS: dict[str, tuple[str, ...]] = {
    "HELD_OUT_NOTES": HELD_OUT_NOTES,
    "UNSEEN_NOTES": UNSEEN_NOTES,
    "INDEPENDENT_NOTES": INDEPENDENT_NOTES,
    "BLIND_NOTES": BLIND_NOTES,
    "LAST_NOTES": LAST_NOTES,
    "SIXTH_NOTES": SIXTH_NOTES,
}

#: Notes with their names and addresses marked inline (``[PERSON:孙红梅]``, ``[CN_ADDRESS:…]``),
#: written on 2026-12-05 by a helper who never saw the project's code, rules, corpora or the
#: tagger (``tests/data/blind_notes_2026_12_05.txt``, 120 notes, 207 names, 104 addresses of
#: which 56 partial); scored once with the rules of that day before any change (see the README).
BLIND_FILE = Path(__file__).parent / "data" / "blind_notes_2026_12_05.txt"
#: A second set written the same day by another helper who never saw the code, the rules, the
#: tagger or the first set (``blind_notes_2026_12_05_b.txt``, 120 notes, 204 names, 102
#: addresses of which about 50 partial); kept aside while fusion was tuned, then scored once.
BLIND_FILE_B = Path(__file__).parent / "data" / "blind_notes_2026_12_05_b.txt"
#: A third set, written by a third helper while set B's misses were looked at, scored once
#: with the final rules and tagger of 2026-12-05 (120 notes, 202 names, 103 addresses).
BLIND_FILE_C = Path(__file__).parent / "data" / "blind_notes_2026_12_05_c.txt"
#: A fourth set, written on 2026-12-06 by a helper who saw nothing on the machine (no code, rules,
#: tagger or earlier set): 120 notes, 251 names, 100 addresses (50 partial). Scored once, blind,
#: with the code before and after that day's first fusion change (the same figures, see the README).
BLIND_FILE_D = Path(__file__).parent / "data" / "blind_notes_2026_12_06_d.txt"
#: A fifth set, written the same day by another helper who saw nothing on the machine: 120
#: notes, 235 names, 98 addresses (48 partial). Scored once, blind, with the code before
#: that day's changes and with the code after all of them (tuned on A–D), see the README.
BLIND_FILE_E = Path(__file__).parent / "data" / "blind_notes_2026_12_06_e.txt"
#: A sixth set, the same day, a third helper who saw nothing on the machine: 120 notes, 221
#: names, 98 addresses (49 partial). Scored once, blind, with the code of the day's start, of
#: the second change and of the third (Uyghur, Tibetan and Mongolian names …), see the README.
BLIND_FILE_F = Path(__file__).parent / "data" / "blind_notes_2026_12_06_f.txt"
#: A seventh set, the same day, a fourth helper who saw nothing: 120 notes, 337 names (chat
#: speakers counted each time), 98 addresses (48 partial). Scored once, blind, with the code
#: of the day's start and after the fourth and fifth changes (tuned on A–F), see the README.
BLIND_FILE_G = Path(__file__).parent / "data" / "blind_notes_2026_12_06_g.txt"
#: An eighth set, the same day, a fifth helper who saw nothing: 120 notes, 230 names, 101
#: addresses (54 partial). Scored once, blind, with the code of the day's start and the final
#: code of the day (52ca932, tuned on A–G), see the README.
BLIND_FILE_H = Path(__file__).parent / "data" / "blind_notes_2026_12_06_h.txt"
#: Sets I to R, written on the next working day (dated 2026-12-06 too) each by a helper who
#: saw nothing on the machine, 120 notes each; each scored once, blind, with fec291b (the
#: previous day's final code) and with the code of the moment (I before any change, each
#: later one after the round tuned on the sets before it; P and R with the final code, Q
#: with the code just before the last round), see the README.
BLIND_FILE_I = Path(__file__).parent / "data" / "blind_notes_2026_12_06_i.txt"
BLIND_FILE_J = Path(__file__).parent / "data" / "blind_notes_2026_12_06_j.txt"
BLIND_FILE_K = Path(__file__).parent / "data" / "blind_notes_2026_12_06_k.txt"
BLIND_FILE_L = Path(__file__).parent / "data" / "blind_notes_2026_12_06_l.txt"
BLIND_FILE_M = Path(__file__).parent / "data" / "blind_notes_2026_12_06_m.txt"
BLIND_FILE_N = Path(__file__).parent / "data" / "blind_notes_2026_12_06_n.txt"
BLIND_FILE_O = Path(__file__).parent / "data" / "blind_notes_2026_12_06_o.txt"
BLIND_FILE_P = Path(__file__).parent / "data" / "blind_notes_2026_12_06_p.txt"
BLIND_FILE_Q = Path(__file__).parent / "data" / "blind_notes_2026_12_06_q.txt"
BLIND_FILE_R = Path(__file__).parent / "data" / "blind_notes_2026_12_06_r.txt"
#: Written by helpers in a later session the same day (S to W, in order), each scored once blind
#: with the code of its round (W with the final code, no round after; see the README).
BLIND_FILE_S = Path(__file__).parent / "data" / "blind_notes_2026_12_06_s.txt"
BLIND_FILE_T = Path(__file__).parent / "data" / "blind_notes_2026_12_06_t.txt"
BLIND_FILE_U = Path(__file__).parent / "data" / "blind_notes_2026_12_06_u.txt"
BLIND_FILE_V = Path(__file__).parent / "data" / "blind_notes_2026_12_06_v.txt"
BLIND_FILE_W = Path(__file__).parent / "data" / "blind_notes_2026_12_06_w.txt"
#: Written by a helper in the session after (the clock still read 2026-12-06), scored once
#: blind with that session's code (the int8 tagger), its float32 tagger and the code before.
BLIND_FILE_X = Path(__file__).parent / "data" / "blind_notes_2026_12_06_x.txt"
#: Every marked set by its letter, with the day its file is dated: what the accuracy table
#: prints and the regression floors name.
MARKED_SETS: dict[str, tuple[Path, str]] = {
    "A": (BLIND_FILE, "2026-12-05"),
    "B": (BLIND_FILE_B, "2026-12-05"),
    "C": (BLIND_FILE_C, "2026-12-05"),
    **{
        letter: (
            Path(__file__).parent / "data" / f"blind_notes_2026_12_06_{letter.lower()}.txt",
            "2026-12-06",
        )
        for letter in "DEFGHIJKLMNOPQRSTUVWX"
    },
    # Written by helpers on 2026-12-07, each scored once blind with d227b02 (before the span
    # head) and with the span head trained on A–X (benchmarks/README.md), then looked at;
    # the head was then trained on A–Z, and later on A–AC.
    **{
        letter: (
            Path(__file__).parent / "data" / f"blind_notes_2026_12_07_{letter.lower()}.txt",
            "2026-12-07",
        )
        for letter in "YZ"
    },
    # Written by a helper the same day, scored once blind with the span head trained on A–Z
    # (then the shipped weights) and without it, then looked at; trained on a session later.
    "AA": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_aa.txt", "2026-12-07"),
    # Written by a helper in the session after (the clock still read 2026-12-07), scored
    # once blind with that session's int8 head (the shipped weights, trained on A–Z), a head
    # trained on A–AA and no head, then looked at (fusion.HEAD_SURE was chosen on it, Y, Z
    # and AA); trained on a session later.
    "AB": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_ab.txt", "2026-12-07"),
    # Written by a helper the same session after HEAD_SURE was chosen, scored once blind
    # with the final code, without HEAD_SURE and without the head; not tuned on. (AB and
    # AC were then, with A–AA, trained on in the session after.)
    "AC": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_ac.txt", "2026-12-07"),
    # Written by helpers in the session after (the clock still read 2026-12-07), asked for
    # more hard negatives (brands, dishes, nicknames, places that are no addresses); each
    # scored once blind, then looked at and tuned on, in order: AD and AE with the head
    # trained on A–AC with renamed copies (and fusion._consistent), AF after
    # fusion._place_named, AG after _unnamed's one word and fusion._heard
    # (benchmarks/README.md); not trained on. AH and AI: written after the code was final,
    # each scored once blind with it (and with the session's starting code and no head);
    # not tuned on.
    **{
        letter: (
            Path(__file__).parent / "data" / f"blind_notes_2026_12_07_{letter.lower()}.txt",
            "2026-12-07",
        )
        for letter in ("AD", "AE", "AF", "AG", "AH", "AI")
    },
    # Written by helpers in the session after (the clock still read 2026-12-07): AJ and AK
    # before any change of that session, AL (addresses asked for, the marking prompt naming
    # the floor and gate conventions) during it. AJ scored once blind with the session's
    # starting code (940d5db) before anything was changed; AK and AL once each after the
    # address and name checks built on A–AJ, and with 940d5db; all three then looked at and
    # tuned on (benchmarks/README.md). AM: written after that round, scored once blind with
    # its code (6536002) and 940d5db, then tuned on; AN (two helpers, 60 notes each) the same
    # after the second round; AO (the same) after the third, the session's final code, not
    # tuned on.
    **{
        letter: (
            Path(__file__).parent / "data" / f"blind_notes_2026_12_07_{letter.lower()}.txt",
            "2026-12-07",
        )
        for letter in ("AJ", "AK", "AL", "AM", "AN", "AO")
    },
    # Written by two helpers (60 notes each) at the start of the session after (the clock
    # still read 2026-12-07), their prompt naming no kind of hard case: scored once blind
    # with that session's starting code (c196047) before anything was changed.
    "AP": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_ap.txt", "2026-12-07"),
    # The same session's second set (two helpers, 60 notes each, written while the first round
    # was made, read by no one until then): scored once blind with that round's code.
    "AQ": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_aq.txt", "2026-12-07"),
    # The third (the same way, written during the second round): scored once blind with the
    # session's final code, not tuned on.
    "AR": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_ar.txt", "2026-12-07"),
    # The fourth (the same way, written during the third round): scored once blind with the
    # session's final code, not tuned on.
    "AS": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_as.txt", "2026-12-07"),
    # The fifth (the same way, written during the fourth round and the review's fixes):
    # scored once blind with the session's final code, not tuned on.
    "AT": (Path(__file__).parent / "data" / "blind_notes_2026_12_07_at.txt", "2026-12-07"),
}
_MARK = re.compile(r"\[(PERSON|CN_ADDRESS):([^\[\]]+)\]")


def marked_notes(path: Path = BLIND_FILE) -> list[LabelledText]:
    """The notes of a file with inline marks, one per line, as labelled texts.

    >>> marked_notes.__name__
    'marked_notes'
    """
    out: list[LabelledText] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text, spans, pos = "", [], 0
        for m in _MARK.finditer(line):
            text += line[pos : m.start()]
            spans.append((len(text), len(text) + len(m.group(2)), m.group(1)))
            text += m.group(2)
            pos = m.end()
        out.append(LabelledText(text + line[pos:], spans))
    return out
