"""``alternation``: a trie behind a look-ahead matches what the plain alternation matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize.detect._names import PERSON_CONTEXT_LEAD, PERSON_CONTEXT_LEAD_RE
from anonymize.detect.text import alternation

#: Few letters, so that words share prefixes and texts hold them often; regex metacharacters
#: among them, which the trie must escape.
_LETTERS = "护士a.]^\\"
_WORDS = st.lists(st.text(_LETTERS, min_size=1, max_size=3), min_size=1, max_size=10)


def _plain(words: list[str]) -> str:
    """The alternation the trie stands for: the words longest first."""
    ordered = sorted(dict.fromkeys(words), key=len, reverse=True)
    return f"(?:{'|'.join(re.escape(w) for w in ordered)})"


@settings(max_examples=400, deadline=None)
@given(
    words=_WORDS, text=st.text(_LETTERS + "x", max_size=20), tail=st.sampled_from(["", "士", "a+"])
)
def test_alternation_when_searched_then_same_matches_as_plain_alternation(
    words: list[str], text: str, tail: str
) -> None:
    # A tail after the group makes the engine backtrack into it: the order in which the
    # words are tried shows, not only the set of words.
    trie = re.compile(f"(?P<w>{alternation(words)}){tail}")
    plain = re.compile(f"(?P<w>{_plain(words)}){tail}")
    assert [m.span("w") + m.span() for m in trie.finditer(text)] == [
        m.span("w") + m.span() for m in plain.finditer(text)
    ]


def test_alternation_when_words_share_prefixes_then_longest_tried_first() -> None:
    pattern = re.compile(alternation(["护士", "护士长", "客户"]))
    assert pattern.match("护士长孙红梅").group() == "护士长"
    assert (
        re.compile(f"{alternation(['护士', '护士长'])}孙").match("护士长孙").group() == "护士长孙"
    )
    assert (
        re.compile(f"{alternation(['护士', '护士长'])}长孙").match("护士长孙").group() == "护士长孙"
    )


@pytest.mark.parametrize("words", [[], [""], ["护士", ""]])
def test_alternation_when_no_word_or_an_empty_one_then_value_error(words: list[str]) -> None:
    with pytest.raises(ValueError, match="alternation"):
        alternation(words)


def test_person_context_lead_re_when_case_notes_then_same_matches_as_the_rules_lead() -> None:
    lead, fast = re.compile(PERSON_CONTEXT_LEAD), re.compile(PERSON_CONTEXT_LEAD_RE)
    texts = [
        line
        for path in sorted(Path(__file__).parents[3].joinpath("data").glob("blind_notes_*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert len(texts) > 1000
    for text in texts:
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in lead.finditer(text)]
