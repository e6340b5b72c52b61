"""What both detection paths find, and what they must not: one table, two paths.

Every case runs through the polars path (:func:`anonymize.detect.vector.scan_table`)
and the Presidio path (:func:`anonymize.detect.analyzer.analyze_text`); both must give
exactly the expected (entity, span text) pairs.

Decisions the negatives pin down (the same in both paths):

- An identifier stands alone: glued to ASCII letters or digits it is part of
  a longer code (``ID11010519491231002X``, ``tel13912345678``, ``SF...``), so it
  is not reported. Chinese characters and punctuation around it are fine.
- A number followed by a decimal fraction is an amount: ``13912345678.50 元``
  is not a phone. A full stop that ends a sentence is no fraction.
"""

from __future__ import annotations

import pytest

from tests.unit.anonymize.detect._detect import values, with_luhn, with_ric, with_uscc

ID_X = "11010519491231002X"
ID_D = "320584199003072617"
ID_15 = "110105491231002"
BAD_CHECK = ID_D[:17] + "8"
WIDE_ID = "".join(chr(ord(c) + 0xFEE0) for c in ID_X)
ADDRESS = "江苏省南京市鼓楼区中山路18号3栋501室"
PHONE = "13912345678"
CARD16 = with_luhn("622202123456789")
CARD19 = with_luhn("622202123456789012")
USCC = with_uscc("91320000134790000")
PERMIT_HK = with_ric("81000019900101002")
PERMIT_TW = with_ric("83000019900101002")

ID, TEL, MAIL, CARD = "CN_RESIDENT_ID", "PHONE_NUMBER", "EMAIL_ADDRESS", "BANK_CARD"
PASS, PLATE, ADDR, ORG, NAME = (
    "CN_PASSPORT",
    "CN_LICENSE_PLATE",
    "CN_ADDRESS",
    "CN_USCC",
    "PERSON",
)

POSITIVES = [
    (ID_X, {(ID, ID_X)}),  # an ID alone, check character X
    (ID_X.lower(), {(ID, ID_X.lower())}),  # lower-case x
    ("110105 19491231 002X", {(ID, "110105 19491231 002X")}),  # 6-8-4 grouping
    (f"身份证号码{ID_D}。", {(ID, ID_D)}),  # Chinese around it, ideographic full stop
    (f"His ID is {ID_D}.", {(ID, ID_D)}),  # a sentence's full stop right after
    (f"{BAD_CHECK} {ID_X}", {(ID, ID_X)}),  # after an 18-digit non-ID and one space
    (f"{ID_X},{ID_D}", {(ID, ID_X), (ID, ID_D)}),  # two IDs sharing one separator
    (f"旧身份证{ID_15}", {(ID, ID_15)}),  # 15-digit first generation, with context
    (ID_15, {(ID, ID_15)}),  # 15 digits alone: reported at the default threshold
    (WIDE_ID, {(ID, WIDE_ID)}),  # full-width digits and X
    (f"港澳居民居住证{PERMIT_HK}", {(ID, PERMIT_HK)}),  # province 81 (Hong Kong), GB/T 2260
    (f"台湾居民居住证{PERMIT_TW}", {(ID, PERMIT_TW)}),  # 83: residence permit of Taiwan residents
    (PHONE, {(TEL, PHONE)}),  # a mobile alone
    ("+86 139 1234 5678", {(TEL, "+86 139 1234 5678")}),  # country code, 3-4-4 by spaces
    ("0086-13912345678", {(TEL, "0086-13912345678")}),  # 0086 and a dash
    ("139-1234-5678", {(TEL, "139-1234-5678")}),  # 3-4-4 by dashes
    ("１３９１２３４５６７８", {(TEL, "１３９１２３４５６７８")}),  # full-width digits
    (f"请拨打{PHONE}。", {(TEL, PHONE)}),  # inside Chinese text
    (f"call {PHONE}.", {(TEL, PHONE)}),  # a sentence's full stop right after
    (f"{PHONE}/13987654321", {(TEL, PHONE), (TEL, "13987654321")}),  # two, one slash between
    (f"Tel.{PHONE}", {(TEL, PHONE)}),  # a dot after letters is an abbreviation
    ("025-84123456", {(TEL, "025-84123456")}),  # landline, area code and dash
    ("(010)62345678", {(TEL, "(010)62345678")}),  # landline, area code in brackets
    ("电话02584123456", {(TEL, "02584123456")}),  # landline written without separator
    ("zhang.san@163.com", {(MAIL, "zhang.san@163.com")}),  # dotted local part
    ("邮箱li_si+work@mail.example.com.cn，谢谢", {(MAIL, "li_si+work@mail.example.com.cn")}),
    ("发至a@b.cn.", {(MAIL, "a@b.cn")}),  # a sentence's full stop is not the domain's
    (CARD16, {(CARD, CARD16)}),  # 16 digits, Luhn
    ("6222 0212 3456 7890 128", {(CARD, "6222 0212 3456 7890 128")}),  # 19, grouped by 4
    ("6222-0212-3456-7894", {(CARD, "6222-0212-3456-7894")}),  # grouped by dashes
    (f"卡号{CARD19}", {(CARD, CARD19)}),  # 19 digits after context
    ("护照号E12345678", {(PASS, "E12345678")}),  # E and 8 digits, with context
    ("护照EA1234567", {(PASS, "EA1234567")}),  # E, a letter and 7 digits
    ("G12345678", {(PASS, "G12345678")}),  # alone: reported at the default threshold
    ("苏A12345", {(PLATE, "苏A12345")}),  # ordinary plate
    ("车牌苏A·12345", {(PLATE, "苏A·12345")}),  # with a middle dot
    ("苏AD12345", {(PLATE, "苏AD12345")}),  # new-energy small car
    ("粤B12345D", {(PLATE, "粤B12345D")}),  # new-energy large vehicle
    ("京A1234学", {(PLATE, "京A1234学")}),  # driving-school car
    (f"地址：{ADDRESS}", {(ADDR, ADDRESS)}),  # province to room
    ("中山路18号", {(ADDR, "中山路18号")}),  # a road and a house number
    ("家住南京市玄武区长江路", {(ADDR, "南京市玄武区长江路")}),  # two levels and a road
    (f"申请人现居{ADDRESS}，拟于", {(ADDR, ADDRESS)}),  # 现居 (and 人 before it) leads to it
    (f"住所{ADDRESS}", {(ADDR, ADDRESS)}),  # 住所's 所 is no part of the address
    (f"民警到达{ADDRESS}", {(ADDR, ADDRESS)}),  # nor 到达's 达
    ("到达州市通川区朝阳路5号", {(ADDR, "达州市通川区朝阳路5号")}),  # but 达州 is a city
    (f"{ADDRESS}楼下被盗", {(ADDR, ADDRESS)}),  # 楼下 is downstairs, no part of it
    (f"{ADDRESS}业主刘鑫反映楼上漏水", {(ADDR, ADDRESS), (NAME, "刘鑫")}),  # nor what follows
    ("中山路18号3号楼下", {(ADDR, "中山路18号3号楼")}),  # building 3: 楼 is its building
    (f"统一社会信用代码{USCC}", {(ORG, USCC)}),  # GB 32100 with context
    ("91110000600037341L", {(ORG, "91110000600037341L")}),  # alone (stdnum's example)
    (f"姓名：张伟，电话{PHONE}", {(NAME, "张伟"), (TEL, PHONE)}),  # name after 姓名
    ("王小明先生来电", {(NAME, "王小明")}),  # name before an honorific
    ("欧阳娜娜", {(NAME, "欧阳娜娜")}),  # a whole cell, compound surname
    ("李欣", {(NAME, "李欣")}),  # a whole cell, two characters
]

NEGATIVES = [
    "订单号2025011391234567801",  # order number with a phone-like run inside
    "运单号SF1234567890123",  # SF Express tracking number
    "快递单号YT3123456789012",  # YTO tracking number
    "发票代码032002100111，发票号码12345678",  # invoice code and number
    "金额13912345678.50元",  # an amount: decimals make it no phone
    "¥13,912,345.67",  # an amount with thousands separators
    "1.13912345678",  # a decimal whose fraction looks like a phone
    "2025-01-01 13:45:12",  # a timestamp
    "下单时间20250101",  # a compact date
    f"身份证号{BAD_CHECK}",  # 18 digits, wrong check digit (also no card, no USCC)
    with_ric("32058419901332261"),  # check digit fine, 1990-13-32 impossible
    with_ric("32058420991231261"),  # born in 2099
    "320584189912311006",  # check digit fine, born before 1900 (and Luhn fails: no card)
    f"身份证号{with_ric('49010519491231002')}",  # check and date fine, no province 49, no Luhn
    f"身份证号{with_ric('16010519900101002')}",  # no province 16 (nor Luhn: no card)
    f"身份证号{with_ric('99010519900101002')}",  # no province 99
    CARD16[:-1] + str((int(CARD16[-1]) + 1) % 10),  # 62 prefix, Luhn fails
    f"订单号{with_luhn('356812341234123')}",  # Luhn passes by chance: an order number
    "客服热线400-820-8820",  # 400 hotline
    "4008208820",  # 400 hotline without dashes
    "95588",  # bank hotline
    "12345",  # government hotline
    "10086",  # carrier hotline
    "12912345678",  # 11 digits, 12 is no mobile prefix
    "10012345678",  # 11 digits, 10 is no mobile prefix
    "202501011234567",  # 15 digits, no province 20
    "202501011234567890",  # 18-digit order number
    f"ID{ID_X}",  # glued to letters: part of a longer code
    f"tel{PHONE}",  # glued to letters, the same rule as IDs
    f"{PHONE}123",  # 14 digits
    "v4.11.32，服务器 192.168.44.111",  # version and IP address
    "型号E12345678",  # a model number, not a passport
    "高中",  # a word starting with a surname (education level)
    "文化",  # a word starting with a surname
    "江苏",  # a province, not a name
    "谢谢",  # jieba's dictionary calls it a name; it is not
    "城市道路建设",  # a road word and one level: no address
    "江苏省南京市",  # a generalized location, not an address
]


@pytest.mark.parametrize("path", ["vector", "presidio"])
@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_detect_when_identifier_present_then_found_exactly(
    path: str, text: str, expected: set[tuple[str, str]]
) -> None:
    assert values(path, text) == expected


@pytest.mark.parametrize("path", ["vector", "presidio"])
@pytest.mark.parametrize("text", NEGATIVES)
def test_detect_when_hard_negative_then_nothing_found(path: str, text: str) -> None:
    assert values(path, text) == set()
