"""The name rule of :mod:`policies.names`: a row per branch; check and bool twins agree."""

from __future__ import annotations

import doctest

import pytest

import policies.names
from policies.errors import InvalidRequest
from policies.names import can_name, check_name


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("residents", "residents"),  # plain ASCII
        ("2025年人口", "2025年人口"),  # Chinese with ASCII digits
        ("Jiangsu人口", "Jiangsu人口"),  # Chinese with Latin letters
        ("江苏省数据局 (Jiangsu Data Bureau)", "江苏省数据局 (Jiangsu Data Bureau)"),  # the demo's
        ("苏州数智运营有限公司", "苏州数智运营有限公司"),  # Chinese only
        ("Москва", "Москва"),  # Cyrillic alone is one alphabet
        ("Ａｌｉｃｅ", "Alice"),  # fullwidth Latin: NFKC makes it ASCII
        ("２０２５年", "2025年"),  # fullwidth digits too
        ("数据\u3000局", "数据 局"),  # the ideographic space becomes a plain space
        ("o'brien.li@bureau", "o'brien.li@bureau"),  # punctuation is no alphabet
        ("Crème brûlée", "Crème brûlée"),  # accented Latin is Latin
        ("カタカナ", "カタカナ"),  # kana alone mixes with no Chinese character
        ("ﷺ", "صلى الله عليه وسلم"),  # an Arabic ligature: NFKC makes it four words
    ],
)
def test_check_name_when_readable_then_nfkc_form_returned(name: str, normalized: str) -> None:
    assert check_name(name, "organisation name") == normalized
    assert can_name(name)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("admin\n", "U+000A"),  # a trailing newline
        ("bureau\r", "U+000D"),  # a carriage return
        ("a\tb", "U+0009"),  # a tab
        ("fi\u200brm", "U+200B"),  # a zero-width space
        ("fi\u200drm", "U+200D"),  # a zero-width joiner
        ("firm\u202egnp.exe", "U+202E"),  # a right-to-left override
        ("\u2066firm\u2069", "U+2066"),  # a left-to-right isolate
        ("firm\u200e", "U+200E"),  # a left-to-right mark
        ("\ufefffirm", "U+FEFF"),  # a byte-order mark
        ("firm\x1b[2K", "U+001B"),  # a terminal escape
        ("firm\u2028x", "U+2028"),  # a line separator
        ("firm\ue000", "U+E000"),  # private use
        ("firm\u1680x", "U+1680"),  # a space NFKC keeps (ogham)
        ("p\u0430ypal", "Cyrillic and Latin"),  # Cyrillic а among Latin letters
        ("\u0391lpha", "Greek and Latin"),  # Greek capital alpha
        ("Jiangsu人口\u0456", "Cyrillic and Latin"),  # Chinese does not excuse the mix
        ("admin\u034f", "U+034F"),  # a combining grapheme joiner (default-ignorable)
        ("firm\ufe0f", "U+FE0F"),  # a variation selector
        ("firm\U000e0100", "U+E0100"),  # a supplementary variation selector
        ("firm\u17b4", "U+17B4"),  # a Khmer inherent vowel, drawn as nothing
        ("firm\u180b", "U+180B"),  # a Mongolian variation selector
        ("fi\u2800rm", "U+2800"),  # the blank braille pattern
        ("firm\u3164", "U+1160"),  # the Hangul filler (NFKC: the jungseong filler)
        ("firm\u1160", "U+1160"),  # the jungseong filler
        ("firm\uffa0", "U+1160"),  # the halfwidth Hangul filler
        ("\u115ffirm", "U+115F"),  # the choseong filler
        ("江苏エ信厅", "Japanese kana"),  # Katakana エ passes for 工
        ("江苏ｴ信厅", "Japanese kana"),  # halfwidth Katakana (NFKC: エ)
        ("统计ー局", "Japanese kana"),  # the prolonged sound mark passes for 一
        ("江苏へ局", "Japanese kana"),  # Hiragana
        ("bureau\u0660", "U+0660"),  # an Arabic-Indic digit
        ("firm\u09ea", "U+09EA"),  # a Bengali four, which reads as 8
        (" firm", "space"),  # a leading space
        ("firm ", "space"),  # a trailing space
        ("other  firm", "two spaces"),  # looks like one space
        ("", "empty"),  # nothing
        ("\u3000", "empty"),  # only white space
    ],
)
def test_check_name_when_misreadable_then_refused_naming_no_name(name: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_name(name, "organisation name")
    assert type(info.value) is InvalidRequest
    message = str(info.value)
    assert says in message and "organisation name" in message
    assert name.strip() == "" or name.strip() not in message
    assert not can_name(name)


def test_names_when_doctests_run_then_they_pass() -> None:
    result = doctest.testmod(policies.names)
    assert result.attempted and not result.failed
