"""The rules of the entities: regexes valid in both engines, scalar validators, linear
matching."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import re._parser as sre_parser
import warnings

import polars as pl
import pytest

from anonymize.detect import entities
from anonymize.detect.entities import ENTITIES, Entity
from anonymize.detect.entities.bank_card import BANK_CARD
from anonymize.detect.entities.resident_id import is_resident_id
from anonymize.detect.entities.uscc import USCC
from anonymize.detect.entity import Rule
from anonymize.detect.overlap import claims, kept
from anonymize.detect.rules import RULES, find_spans
from anonymize.detect.text import ALONE_AFTER, normalize
from anonymize.errors import AnonymizationError
from tests.unit.anonymize.detect._detect import with_luhn, with_ric, with_uscc


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.entity}-{r.kind}-{r.score}")
def test_rule_when_compiled_then_valid_in_python_and_rust_without_warnings(rule: Rule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. FutureWarning: possible nested set
        rule.python_regex()
        for form, _ in rule.forms:
            re.compile(form)
    for regex in (rule.vector_regex(), rule.requires, *(f for f, _ in rule.forms)):
        pl.Series(["x"]).str.contains(regex)  # raises if Rust's regex rejects it


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.entity}-{r.kind}-{r.score}")
def test_rule_when_widths_read_then_match_what_the_vector_path_assumes(rule: Rule) -> None:
    # The vector path cuts a whole match into lead, span and tail by these widths.
    width = sre_parser.parse
    if rule.kind == "behind":
        assert width(rule.lead).getwidth() == (rule.step_back, rule.step_back)
    if rule.tail == ALONE_AFTER:  # one character, or a dot and one character
        assert width(rule.tail).getwidth() == (1, 2)
    else:
        assert width(rule.tail).getwidth() == (rule.tail_width, rule.tail_width)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("１３９", "139"),  # full-width digits
        ("ＡＢｘ", "ABx"),  # full-width letters
        ("（０１０）－", "(010)-"),  # full-width brackets and dash
        ("a\u3000b", "a b"),  # ideographic space
        ("中文，。", "中文,。"),  # the full-width comma folds, the ideographic full stop stays
    ],
)
def test_normalize_when_full_width_then_ascii_and_same_length(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert len(normalize(text)) == len(text)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("11010519491231002X", True),  # GB 11643, check character X
        ("11010519491231002x", True),  # lower-case x
        ("110105 19491231 002X", True),  # grouped 6-8-4
        ("320584199003072618", False),  # wrong check digit
        (with_ric("11010519991332001"), False),  # 1999-13-32
        (with_ric("11010520991231001"), False),  # born in the future
        (with_ric("11010518991231001"), False),  # born before 1900
        (with_ric("49010519491231002"), False),  # check and date fine, no province 49 (GB/T 2260)
        (with_ric("16010519491231002"), False),  # no province 16
        (with_ric("71000019900101002"), True),  # Taiwan, 71
        (with_ric("83000019900101002"), True),  # residence permit of a Taiwan resident, 83
        (with_ric("65290119900101002"), True),  # Xinjiang, 65: the last mainland province
        ("110105491231002", True),  # 15 digits: province 11, 1949-12-31
        ("990105491231002", False),  # 15 digits: no province 99
        ("110105491331002", False),  # 15 digits: month 13
        ("1101054912310021", False),  # 16 digits
    ],
)
def test_is_resident_id_when_candidate_then_check_and_date_decide(
    candidate: str, expected: bool
) -> None:
    assert is_resident_id(candidate) is expected


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("91110000600037341L", True),  # stdnum's example
        ("91110000600037341M", False),  # wrong check character
        (with_uscc("32058419900307261"), False),  # valid by GB 32100, but reads as an ID
    ],
)
def test_is_uscc_when_candidate_then_check_and_id_shape_decide(
    candidate: str, expected: bool
) -> None:
    assert USCC.validator is not None
    assert (USCC.validator.scalar(candidate) and kept(USCC, candidate, "", 0)) is expected
    assert claims(USCC, candidate) is expected


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (with_luhn("622202123456789"), True),  # 16 digits
        (with_luhn("622202123456789012"), True),  # 19 digits
        (with_luhn("62220212345678901"), True),  # 18 digits, no year where an ID has one
        (with_luhn("32058419900307261"), False),  # 18 digits that read as a resident ID
        (with_luhn("62220212345678"), False),  # 15 digits
        ("6222021234567890", False),  # Luhn fails
    ],
)
def test_is_bank_card_when_candidate_then_luhn_and_length_decide(
    candidate: str, expected: bool
) -> None:
    # Without a word before it (the text is the number alone), as the card rule reads it.
    assert BANK_CARD.validator is not None
    assert (BANK_CARD.validator.scalar(candidate) and kept(BANK_CARD, candidate, "", 0)) is expected


@pytest.mark.parametrize(
    "text",
    [
        "市" * 3000,  # every character could end a city
        "江苏省南京市" * 500,  # levels without a road
        "1天" * 5000,  # short runs with no address ending
        "王" * 5000,  # surnames only
        "1" * 20000,  # one long number
        "a@" * 5000,  # e-mail fragments
    ],
)
@pytest.mark.timeout(30)
def test_find_spans_when_adversarial_text_then_linear_time(text: str) -> None:
    for definition in ENTITIES:  # nested optional parts once took minutes on 市市市…
        for rule in definition.rules:
            find_spans(definition, rule, normalize(text))


def test_entity_set_when_names_then_entities_or_error() -> None:
    assert entities.entity_set(None) == frozenset(Entity)
    assert entities.entity_set(["PERSON", Entity.CN_USCC]) == {Entity.PERSON, Entity.CN_USCC}
    with pytest.raises(AnonymizationError, match="use the names"):
        entities.entity_set(["person"])


@pytest.mark.parametrize(
    "module",
    [
        "anonymize.detect.text",
        "anonymize.detect.rules",
        "anonymize.detect.overlap",
        "anonymize.detect.vector",
        "anonymize.detect.scan",
        "anonymize.detect.classify",
        "anonymize.detect.analyzer",
        "anonymize.detect.recognizer",
        "anonymize.detect.entities",
        *(f"anonymize.detect.entities.{m.name}" for m in pkgutil.iter_modules(entities.__path__)),
    ],
)
def test_docstring_examples_when_run_then_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
