"""Rules and the trained tagger together for names, addresses and organisations.

The rules (:mod:`anonymize.detect.entities`) keep what they are good at:
checksums, context words, form fields (姓名：…, 住址：…). They miss what no
list knows: a name in running prose with no role word before it (刚跟吴颖通了
电话), an address without province or city (白云区宜都街U座). LAC, the
trained tagger of :mod:`anonymize.detect.tagger`, reads those; fused, each
covers the other's blind side:

``PERSON``
    A tagger ``PER`` word is a name when it is Chinese, starts with a known
    surname (the rules' and some rarer ones) or is a transliterated name
    (扎西多吉, 热依拉·买买提), is 2 to 4 characters, is no title (王医生, 老李,
    张氏, 邢某) and no shop's or company's name follows it (凌云超市). A
    rule's name goes when the tagger reads other words there: it lies inside
    a longer ``ORG`` word (凌云科技有限公司), it is a title, a common word
    crosses its end (杜明|同住) or, for a weak one (score below :data:`SURE`:
    no context word, no form field), its start (师傅|现场), a time lies over
    it (于|下午), or the tagger reads it as verbs only (信访). Where a rule's
    name and the tagger's overlap, the rule keeps its span when it was sure,
    or when the tagger's is a piece of it and a tagger word crosses the
    rule's edge (沈桂|珍持: LAC cut the name where a verb glued on); else the
    tagger's word wins (刚跟吴颖|通了电话: 吴颖, not the rule's 吴颖通). An item
    beside a name in a list (靳国栋、訾文娟、高峰、常青) that opens with a
    surname and is no role is a name too, whatever word it also is. A name
    that ends at a middle dot, or starts after one, takes the tagger's word
    on the dot's other side (艾力|·|库尔班: 艾力·库尔班), and the tagger reads a
    few characters more on either side of every such dot. Uyghur, Tibetan,
    Mongolian and Yi names are read by their syllables
    (:mod:`anonymize.detect._minority`) where a name stands, and replace the
    pieces found inside them. In a name's slot (after a context word, before a
    delimiter or 称: 市民高峰来电称) a common word is a name. A function word
    glued to a two-character name is cut off (符晓|凭), and a weak "name" that
    ends like a role (查勘员, 信访人) goes. In a chat where one speaker is a
    name, the other speakers are names too (白云：… 冷静：…). A weak name the
    tagger reads as a verb and an adjective or a preposition and a pronoun goes
    (关|好门窗, 向|其说明), and so does a role after a preposition (由|房东). The
    tagger's surname and given name read apart are one name (晋|小鹏), a name it
    read with the role before it is cut out of it (邻居费国强), its longer reading
    wins over a rule that stopped before a word (祁明|月, 欧阳建|平等), a name
    that closes on a given name that is also a word is read on (牟海|洋), and a
    compound surname is always read (欧阳方圆).
``CN_ADDRESS``
    A run of tagger words that reads as an address: places (``LOC``), then
    house numbers, buildings, units and rooms (12号, 3栋, 2单元, 402室), with
    at least a street-level part (a road, street, village, estate or a
    number). It finds partial addresses the rules cannot accept, and where a
    rule's run overlaps it, the run's edges come from the tagger's words
    (入户走访鼓楼区… starts at 鼓楼区; …286号二楼 ends at 286号). Past a house
    number an address goes on over an estate's or a building's name and its
    buildings, units and room (…112号金色家园8栋1703室, …214号之三901房,
    16号楼5门302); past a village, over its group (石桥村五组12号); a floor in
    words at its end (百隆广场一楼) and a word before it (隔壁, 致) are left out.
    A form field's address keeps its end at the number (住址：…端履门32号), a
    room glued after a building (16栋802) or a house number (28号303房) belongs to
    it, a business at the number (16号智慧物流园), downstairs (12号楼楼下) and a
    village's road or entrance (村口, 村西头) do not.

This module is long because the two halves of the fusion (names, addresses)
share the tagger's words, its clean-up and the windows of doubt, and are
tuned together against the held-out sets; split, each half would re-read
the others' constants.

Only free text goes to the tagger (:func:`is_free_text`: at least
:data:`MIN_HAN` Chinese characters); a column of names, IDs or phones keeps the
rules alone, which read it better and far faster (a column of full addresses
does reach the tagger, whose runs then keep the rules' edges). Within a free text the
tagger reads only where the rules leave doubt (:func:`doubts`: around
surnames, address parts and the rules' own names and addresses), about
60 % of a case note's characters. Both detection paths call
:func:`fuse_texts` on the same texts with the same rule findings, so they stay
identical (``tests/unit/anonymize/detect/test_agreement.py``).
"""

from __future__ import annotations

import bisect
import functools
import operator
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import TypeVar

from anonymize.detect._head import Learned
from anonymize.detect._kinds import AREAS_ONLY, DIGITS, FIELD_SURE, HOME_CUES, placed, unnamed_kinds
from anonymize.detect._minority import (
    DISTINCT_YI_CLANS,
    SYLLABLES,
    completes_syllable,
    is_minority_name,
    minority_names,
)
from anonymize.detect._names import (
    COMPOUND_SURNAMES,
    GIVEN_NAME_WORDS,
    GLUED_WORD,
    NAME_STOP,
    NOT_NAMES,
    ORG_WORDS,
    PERSON_CONTEXT_LEAD_RE,
    RARER_SURNAMES,
    ROLE_SUFFIXES,
    ROLE_WORDS,
    SAFE_SURNAMES,
    SURNAMES,
    THIRD_MIN_FREQUENCY,
    function_words,
    third_taken,
    two_character_frequencies,
    word_frequency,
)
from anonymize.detect.entities import address, person
from anonymize.detect.findings import Span
from anonymize.detect.tagger import Word, collector_paused, tagger

_T = TypeVar("_T")

PERSON = person.NAME
ADDRESS = address.NAME
#: The entities fusion decides; every other finding passes through unchanged.
FUSED = frozenset({PERSON, ADDRESS})
#: Texts read by the tagger at once (its scores, 57 floats a character, are held per call);
#: the next chunk is read while one is fused.
CHUNK = 500
#: A text needs this many Chinese characters to be read by the tagger.
MIN_HAN = 8
#: A rule's score at or above which its span beats LAC's words (context word, form field);
#: with the span head, a name neither LAC nor the head reads is dropped below
#: :data:`FIELD_SURE` all the same (:func:`_heard`), and a name the head is sure of sets
#: its edges (:func:`_learned_edges`).
SURE = 0.85
#: Scores of what the tagger finds (above the default threshold of 0.5, below :data:`SURE`).
TAGGER_PERSON = 0.8
TAGGER_ADDRESS = 0.8

#: Chinese characters (CJK unified ideographs), as a character class both paths count with.
HAN_CLASS = "[\u4e00-\u9fff]"
_HAN = re.compile(HAN_CLASS)
#: A word's parts between white space, and the white space.
_SEGMENT = re.compile(r"\S+|\s+")
#: Letters, digits and hyphens only (a room number LAC cut at its hyphens: 9-2-501).
_CODE_RUN = re.compile(r"[0-9A-Za-z-]+")
#: The part of a word from its first to its last letter, digit or Chinese character.
_CORE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff](?:.*[0-9A-Za-z\u4e00-\u9fff])?", re.S)
_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]+$")
#: A word of letters, digits and Chinese characters only (nothing for :func:`_cleaned` to split).
_PLAIN = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]+")
_MINORITY = re.compile(r"^[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,6}$")
#: The rules' surnames and rarer ones the tagger reads (宓, 訾, 仉, 禚 …): the tagger's name
#: needs a surname, the rules' lists need no change.
_SURNAMES = frozenset(SURNAMES) | frozenset(RARER_SURNAMES)
_COMPOUNDS = tuple(COMPOUND_SURNAMES)
_COMPOUND_SET = frozenset(COMPOUND_SURNAMES)
_COMPOUND_FIRST = frozenset(c[0] for c in COMPOUND_SURNAMES)
#: What follows a surname in a title, not a name (王医生, 张老师, 邓师傅, 李总).
_TITLES = frozenset(
    "医生 老师 师傅 经理 主任 总 局长 处长 科长 所长 院长 校长 书记 队长 班长 阿姨 大爷 大妈 大姐"
    " 大哥 姐 哥 叔 婶 工 警官 律师 会计 护士 老板 总监 助理 秘书 同学 先生 女士 小姐 某 某某 氏"
    " 阿婆 阿姨 阿公 婆婆 奶奶 爷爷 伯 姨 嫂"
    " 法官 检察官 民警 交警 辅警 大夫 医师 站长 村长 组长 部长 厂长 行长 馆长 园长 主管 教练 司机"
    " 爸爸 妈妈 爸 妈 叔叔 哥哥 姐姐 嫂子 伯伯"
    " 家".split()
)
_NOT_FIRST = "老小阿"
_COMMON = frozenset(SAFE_SURNAMES)
#: First characters of a name: the surnames and the compound surnames' first characters.
_STARTS = _SURNAMES | frozenset(c[0] for c in _COMPOUNDS)
#: Words after which a tagger's name is a shop's or a company's (凌云超市, 凌云专营店).
_SHOP_WORDS = (*sorted(ORG_WORDS), "超市", "专营", "旗舰", "店", "商城", "集团", "工作室", "有限")
#: A place word that ends at street level (or below): what makes a run an address.
_STREET = re.compile(
    r"(?:路|街|道|巷|弄|胡同|大道|村|组|苑|园|小区|新村|山庄|花园|公寓|大厦|广场|中心|城|里|庄|湾|屯|寨"
    r"|[0-9]+号|[0-9]+号院|[0-9]+号楼|栋|幢|座|单元|室|层)$"
)
#: A road's or a street's name.
_ROAD = re.compile(r"(?:路|街|大道|巷|弄|胡同)$")
#: Administrative suffixes: a word ending in one may open a run (友好区, 高新区).
_ADMIN = re.compile(r"(?:省|市|区|县|旗|镇|乡|街道)$")
#: House numbers, buildings, units, rooms and village groups after a place: one or more
#: numbers each with its unit (四段778号, 7栋, 2单元, 402室, 三组, D座, 27楼).
_PART = (
    r"(?:[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*|[一二三四五六七八九十]+)"
    r"(?:号楼|号院|号|栋|幢|座|单元|室|层|楼|组|期|房)"
)
_TAIL = re.compile(rf"^(?:[一二三四五六七八九十0-9]+段)?(?:{_PART})*(?<=[^0-9A-Za-z])[0-9]*$")
#: What one place word needs to be an address on its own: a number, a letter, a building
#: part, or an administrative level before its street (白云区宜都街).
_ONE_WORD = re.compile(r"[0-9A-Za-z]|号|栋|幢|座|单元|室|层|[省市区县镇乡].+(?:路|街|道|巷|弄|村)")
#: An organisation word that holds an administrative level and ends on a street or number.
_ORG_ADDRESS = re.compile(r"[省市区县镇乡].*(?:路|街|道|巷|弄|村|[0-9]+号)$")
#: A building with its number, where a run of buildings and units may start (6号楼, 5栋, 1栋).
_BUILDING = re.compile(r"[0-9]+(?:号楼|栋|幢|座)|[0-9]+号")
#: An estate's name (碧桂园, 凤凰城, 梅花山庄): glued before a place, it belongs to the address.
_ESTATE = re.compile(r"(?:园|苑|城|庄|湾|府|邸|居|村)$")
#: Nouns that close an estate or community after its name (幸福里小区, 桂花园社区).
_AREA_WORDS = frozenset({"小区", "社区", "新村", "花园", "大院", "公寓"})
#: Characters each point of doubt is widened by, before and after (a name's surname sits
#: at the point: three characters before it, the name and some after it).
BEFORE = 3
AFTER = 6
#: Characters before an address part's end a window reaches (an estate's name: 幸福里小区).
PLACE_BEFORE = 6
#: Characters read on either side of a middle dot between Chinese characters (a
#: transliterated name's parts), besides :data:`BEFORE` and :data:`AFTER`.
DOT_SIDE = 6
_DOT = re.compile(r"(?<=[\u4e00-\u9fff])·(?=[\u4e00-\u9fff])")
#: A character of a number or code a window never cuts, and the units that may follow one.
_CODE_CHAR = re.compile(r"[0-9A-Za-z-]")
_UNIT_CHARS = frozenset("室号层楼栋幢座房")
#: Characters that end an address part: each is a point of doubt.
_ADDRESS_CHARS = frozenset("省市区县镇乡路街道巷弄村组号栋幢座室苑园楼")
#: Where a sentence ends (a window stops there).
_SENTENCE_END = re.compile(r"[。！？；!?;\n]+")
#: jieba's frequency from which a two-character word holding a surname is no doubt (时间).
_WORD_FREQUENCY = 100
#: Field labels LAC may read as places (户籍地址): they open no address.
_LABELS = ("地址", "住址", "地点", "住所")
_NUMBER = re.compile(r"^[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$")
#: A room given as building-unit-room (9-2-501).
_TRIPLE = re.compile(r"[0-9]+-[0-9]+-[0-9]+")
#: A noun that ends on a building or a number (阳光花园6幢, 朝晖六区22幢, 五社27号).
_ENDS_BUILDING = re.compile(
    r"[\u4e00-\u9fff]{1,10}[0-9A-Za-z]+(?:号楼|号院|号|栋|幢|座|单元|室|层|组|社)"
)
#: A unit word after a bare number (3 单元, 402 室, 30 楼).
_UNIT_WORDS = frozenset({"单元", "室", "房", "号楼", "栋", "幢", "座", "层", "楼"})
#: Ends of a piece after which a bare number is a unit or room (2单元 301, 12幢 402).
_BUILDING_END = ("单元", "栋", "幢", "座", "号楼", "楼")


def is_free_text(text: str) -> bool:
    """Whether the tagger reads ``text``: at least :data:`MIN_HAN` Chinese characters.

    >>> is_free_text("张伟"), is_free_text("刚跟吴颖通了电话，她说明天到")
    (False, True)
    """
    return len(_HAN.findall(text)) >= MIN_HAN


def _person(word: str) -> str | None:
    """The name in a tagger ``PER`` word, if it reads as a private person's full name.

    A four-character word that opens with a single surname is a three-character
    name and the next character glued on (汪大海术后: 汪大海); one that opens with a
    rarer surname, only when an adverb or a function word is glued on (易平安原在:
    易平安, but 边玛次仁, 伊帕尔汗); one that opens with no
    surname is a transliterated name (扎西多吉, 阿依古丽).
    """
    glued = len(word) == 4 and word[-1] in _GLUED_FOURTH  # 马海燕原|在: not a Yi name
    if _MINORITY.fullmatch(word) or (is_minority_name(word) and not glued):
        return word
    if word in _ROLE_NOUNS or word in _ROLE_WORD_SET:
        return None  # 房东, 楼长: a role the tagger read as a name
    if word[-1] in "村镇乡区县路街":
        return None  # 后|刘村: a place the tagger read as a name
    if len(word) == 2 and word[-1] in "员":
        return None  # 调|解员: a role's end, not a name
    if not _HAN_ONLY.fullmatch(word) or not 2 <= len(word) <= 4:
        return None
    compound = word.startswith(_COMPOUNDS)
    surname = word[:2] if compound else word[0]
    if len(word) == 4 and not compound and word[2:] in _TITLES:
        word = word[:2]  # 魏红园长: 魏红 and the title 园长
    if len(word) == 4 and not compound:
        if surname in _COMMON:
            word = word[:3]
        elif word[0] in _NOT_FIRST and word[1] in _SURNAMES:
            return None
        elif surname in _SURNAMES and word[-1] in _GLUED_FOURTH:
            word = word[:3]  # 易平安原|在: a rarer surname, an adverb glued on
        else:
            return word
    rest = word[len(surname) :]
    if not rest or _title(word):
        return None
    if word[0] in _NOT_FIRST and len(word) == 2:
        return None
    return word if compound or surname in _SURNAMES else None


#: An administrative area alone (高新区, 城关镇): what a sure rule's address may open with
#: where the tagger read it as a noun.
_ADMIN_GAP = re.compile(r"[\u4e00-\u9fff]{1,8}(?:省|市|区|县|旗|镇|乡|州)")
#: Characters before 方 that make it a party to a contract or a dispute (甲方, 承租方, 女方).
_PARTY = frozenset("甲乙丙丁双对租买卖男女我他院校警资劳让")
#: Two-character parties before 方 whose last character opens no party alone (流出|方, not
#: 搜出|方丽华).
_PARTIES = frozenset(("流出", "流入", "转出", "转入", "承包", "发包", "出租", "承租"))
#: Adverbs and function words LAC glues onto a three-character name (易平安原在, 钟伟一方).
_GLUED_FOURTH = frozenset("跟与在说凭也都又还就已把被给对向未原曾现均今昨刚将一")


def _role_glued(text: str, word: Word) -> tuple[int, int] | None:
    """The name in a noun LAC read with the role or context word before it (邻居费国强,
    管家池雪梅, 患者师玉珍)."""
    piece = text[word.start : word.end]
    for k in (2, 3):
        role, rest = piece[:k], piece[k:]
        if (role not in _ROLE_WORD_SET and role not in NOT_NAMES) or not 2 <= len(rest) <= 3:
            continue  # 邻居|费国强, 患者|师玉珍
        if rest[-1] in "证卡费款表单书码":
            continue  # 居民|居住证: a document, no name
        if rest[0] in _SURNAMES and rest not in _ROLE_NOUNS and word_frequency(rest) == 0:
            return (word.start + k, word.end)
    return None


def _joined(text: str, words: Sequence[Word]) -> list[Word]:
    """A one-character ``PER`` surname and the ``PER`` given name after it as one word
    (晋/PER 小鹏/PER: 晋小鹏)."""
    out: list[Word] = []
    for w in words:
        last = out[-1] if out else None
        if (
            last is not None
            and w.tag == "PER"
            and last.tag == "PER"
            and last.end == w.start
            and last.end - last.start == 1
            and text[last.start] in _SURNAMES
            and 1 <= w.end - w.start <= 2
        ):
            out[-1] = Word(last.start, w.end, "PER")
        else:
            out.append(w)
    return out


def _names(text: str, words: Sequence[Word]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for w in _joined(text, words):
        if w.tag == "PER" and text[w.start - 1 : w.start] in _NUMERALS and w.start:
            continue  # 两|周后: a measure word after a numeral, not a surname
        if w.tag in ("n", "nz") and 4 <= w.end - w.start <= 6:
            glued = _role_glued(text, w)
            if glued is not None:
                out.append(glued)
            continue
        if w.tag != "PER":
            continue
        word, start = text[w.start : w.end], w.start
        if len(word) >= 4 and word[-1] in "户家" and word[:-1] != word[0] * 3:
            word = word[:-1]  # 吉克阿依户: the household, not the name
        if (
            2 <= len(word) <= 3
            and text[start - 1 : start + 1] in _COMPOUND_SET
            and text[start - 1] not in ROLE_SUFFIXES  # not 护士长|孙红梅
            and text[start - 2 : start] not in _ROLE_WORD_SET  # not 房东|郭铁柱
            and two_character_frequencies().get(text[start - 2 : start], 0) < _WORD_FREQUENCY
        ):
            word, start = text[start - 1 : start + len(word)], start - 1  # 证人公|孙晓燕
        if len(word) >= 3 and _party_fang(text, start):
            word, start = word[1:], start + 1  # 甲方|田大勇, 承租方|梁晓蕾: the party, not 方
        name = _person(word)
        if name and len(name) == 3 and not name.startswith(_COMPOUNDS) and "·" not in name:
            after = start + 3
            if third_taken(name[2] + text[after : after + 1], text[after : after + 2]):
                name = name[:2]  # 钟伟一|方保险: 一方 takes the third character
                if _title(name):
                    continue  # 潘总|列席
        # 凌云超市, 凌云科技: a shop's or a company's name, not a person's.
        if name and not text.startswith(_SHOP_WORDS, start + len(name)):
            out.append((start, start + len(name)))
    return out


def _crossed(words: Sequence[Word], start: int, end: int) -> bool:
    """Whether a tagger word crosses an edge of ``[start, end)`` (师傅|现场 for 傅现场).

    ``words`` need only hold the words over the span (:func:`_over`): a word
    across an edge of a span overlaps it.
    """
    return any(w.start < edge < w.end for w in words for edge in (start, end))


def _over(words: Sequence[Word], ends: Sequence[int] | None, start: int, end: int) -> list[Word]:
    """The words over ``[start, end)``, in order.

    ``ends`` are the words' ends when the words are sorted and disjoint (as the
    tagger reads them): the first one found by bisection, not by a scan of a
    note's every word for each of its names.
    """
    if ends is None:
        return [w for w in words if w.start < end and start < w.end]
    out: list[Word] = []
    for i in range(bisect.bisect_right(ends, start), len(words)):
        if words[i].start >= end:
            break
        out.append(words[i])
    return out


def _torn(text: str, inside: Sequence[Word], span: Span) -> bool:
    """Whether the tagger reads a rule's name as other words (师傅|现场, 杜明|同住, 于|下午).

    A weak name (below :data:`SURE`) goes when a word the tagger reads across
    either edge is one jieba's dictionary knows as common, when a time word
    lies over it, or when it opens with a one-character conjunction (但|门卫);
    a sure one (a context word or a form field before it) only when a common
    word crosses its end, a very common one (:data:`_COMMON_NAME`) its start
    (维修师|傅现场: the role word was 师傅), or it opens with a preposition
    before a time (女儿于下午), or it is one common word the tagger does not read
    as a name (信访, 阿姨). An odd piece across an edge (沈桂珍|持 read as 沈桂
    + 珍持) says nothing.
    """
    sure = span.score >= SURE
    # 来电人马|文静: the tagger reads the given name as a name, so the surname before it is one
    # too, whatever word it also closes.
    given = any(w.tag == "PER" and w.end == span.end and w.start > span.start for w in inside)
    for w in inside:
        if w.tag == "PER":
            continue
        frequency = word_frequency(text[w.start : w.end])
        common = frequency >= _COMMON_WORD
        if common and w.start < span.end < w.end:
            return True
        if given and w.start < span.start < w.end:
            continue
        if w.start < span.start < w.end and (common if not sure else frequency >= _COMMON_NAME):
            return True  # 师傅|现场: the name's first character closes a word
        if not sure and w.tag == "TIME":
            return True
    if not sure and inside:
        first = inside[0]
        if first.start == span.start and first.end == first.start + 1 and first.tag in _LEADS:
            return True  # 但|门卫: a conjunction, not a surname
    if sure and inside and inside[0].tag == "p" and any(w.tag == "TIME" for w in inside):
        return True
    single = len(inside) == 1 and (inside[0].start, inside[0].end) == (span.start, span.end)
    return (
        single
        and inside[0].tag != "PER"
        and word_frequency(text[span.start : span.end]) >= _COMMON_NAME
    )


def _pieces(text: str, covered: Sequence[Word], span: Span) -> bool:
    """Whether the tagger reads a weak name as words no name is made of (:data:`_NO_NAME_PIECE`)."""
    if len(covered) < 2 or text[span.start - 1 : span.start] == "、":
        return False
    if text[span.end : span.end + 1] in ("、", "及", "和", "与"):
        return False
    tags = [w.tag for w in covered]
    return any(t in _NO_NAME_PIECE for t in tags) and all(
        t in _NO_NAME_PIECE or t in _ADJECTIVES for t in tags
    )


_NUMERALS = frozenset("一二两三四五六七八九十几0123456789")


def _measure(text: str, span: Span) -> bool:
    """A weak "name" after a numeral: a measure word (两|周后), not a surname."""
    return span.score < SURE and text[span.start - 1 : span.start] in _NUMERALS


def _no_name(text: str, covered: Sequence[Word], span: Span) -> bool:
    """A compound surname alone (诸葛|先生), a verb the tagger reads before a colon
    (目击者陈述：), or 时 after a verb before a common word (联系司机时|得知, 会见时长)."""
    name = text[span.start : span.end]
    if name in _COMPOUND_SET:
        return True
    whole = len(covered) == 1 and (covered[0].start, covered[0].end) == (span.start, span.end)
    if whole and covered[0].tag in _VERBS and text[span.end : span.end + 1] in ("：", ":"):
        return True
    if name[0] != "时" or span.start == 0 or _HAN.match(text, span.start - 1) is None:
        return False
    if span.score < SURE:
        return True  # 回访时|案主
    rest = name[1:] if len(name) == 3 else name
    frequency = two_character_frequencies().get(rest, 0)
    return frequency >= THIRD_MIN_FREQUENCY and rest not in GIVEN_NAME_WORDS


def _pronoun_word(text: str, covered: Sequence[Word], span: Span) -> bool:
    """A weak two-character "name" the tagger reads as one pronoun (那行), unless its first
    character is a common surname (何杨 is a name the tagger reads as a pronoun)."""
    return (
        span.score < SURE
        and len(covered) == 1
        and (covered[0].start, covered[0].end) == (span.start, span.end)
        and covered[0].tag == "r"
        and text[span.start] not in _COMMON
    )


def _party_fang(text: str, i: int) -> bool:
    """Whether the 方 at ``i`` closes a party (甲|方, 承租|方, 警|方), not a surname, unless the
    character before ends a role word (孙女|方晓丽)."""
    return text[i : i + 1] == "方" and (
        (text[i - 1 : i] in _PARTY and text[max(0, i - 2) : i] not in _ROLE_WORD_SET)
        or text[max(0, i - 2) : i] in _PARTIES
    )


def _surname_length(text: str, start: int) -> int:
    """Characters of the surname a name at ``start`` opens with: 2 for a compound one."""
    return 2 if text.startswith(_COMPOUNDS, start) else 1


def _role_after_surname(text: str, span: Span) -> bool:
    """A "surname" before a role is a preposition or a verb (由|房东承担, 向|乘客补偿); 方
    after a party is the party (警|方追回, 甲|方)."""
    if _party_fang(text, span.start):
        return True
    surname = _surname_length(text, span.start)
    rest = text[span.start + surname : span.end]
    if rest in _ROLE_WORD_SET or rest in _ROLE_NOUNS:
        return True
    # 骑手向|平台申请: a preposition before a common noun
    return (
        text[span.start] in _PREPOSITIONS
        and word_frequency(rest) >= _COMMON_NAME
        and rest not in GIVEN_NAME_WORDS  # 组长向红军, 专员向建国
    )


#: Surname-like prepositions (向, 和, 对 …).
_PREPOSITIONS = frozenset("向和对跟与给被把为从")
#: Locatives after a noun (民房|内, 院子|里): no name's last character when read alone.
_LOCATIVES = frozenset("内外里中旁边")


def _locative(text: str, covered: Sequence[Word], span: Span) -> bool:
    """A two-character "name" whose first character closes a word and whose second the tagger
    reads as a locative (民|房内: 民房 and 内)."""
    if span.end - span.start != 2 or len(covered) != 2:
        return False
    first, last = covered
    return (
        first.start < span.start
        and (last.start, last.end) == (span.end - 1, span.end)
        and last.tag == "f"
        and text[span.end - 1] in _LOCATIVES
    )


def _longer_compound(text: str, span: Span, tagged: tuple[int, int]) -> bool:
    """Whether the tagger's name is the rule's three-character compound-surname name and
    one character more (欧阳建|平等: the rules stop before 平等, the tagger reads 欧阳建平)."""
    return (
        tagged[0] == span.start
        and tagged[1] == span.end + 1
        and span.end - span.start == 3
        and text.startswith(_COMPOUNDS, span.start)
    )


#: One-character verbs that follow a name glued (端木晴骑车, 王芳说): rare as a name's end.
_CUT_VERBS = frozenset("骑说讲问找送拿打坐走跑去")


def _longer_given(text: str, span: Span, tagged: tuple[int, int]) -> bool:
    """Whether the tagger's name is the rule's two-character name and one character more,
    no function word or verb (矫正对象祁明|月，: the rules stop before the word 明月)."""
    return (
        tagged[0] == span.start
        and tagged[1] == span.end + 1
        and span.end - span.start == 2
        and not text.startswith(_COMPOUNDS, span.start)
        and text[span.end] not in _GLUED_FOURTH
        and text[span.end] not in _CUT_VERBS
        and text[span.end] not in "的了是和及等来去住于"
    )


def _verb_cut(text: str, covered: Sequence[Word], span: Span) -> Span:
    """A sure name without a one-character verb the tagger reads at its end (端木晴|骑)."""
    last = covered[-1] if covered else None
    if last is None or (last.start, last.end) != (span.end - 1, span.end) or last.tag != "v":
        return span
    if text[span.end - 1] not in _CUT_VERBS:
        return span  # 钟大有: 有 ends names as often as it follows them
    surname = _surname_length(text, span.start)
    if span.end - 1 - span.start <= surname:
        return span
    return Span(span.start, span.end - 1, span.entity, span.score)


def _title(name: str) -> bool:
    """A surname and a title, not a name (王医生, 邓师傅, 张氏, 邢某, 陈氏凉…)."""
    surname = name[:2] if name.startswith(_COMPOUNDS) else name[:1]
    rest = name[len(surname) :]
    return rest in _TITLES or "某" in rest or "氏" in rest


#: Tags of a one-character word that opens no weak name (但|孩子: a conjunction). Adverbs and
#: pronouns are left out: 都 and 何 open names (都小红, 何玉英) the tagger reads as d and r.
_LEADS = frozenset({"c"})
#: Verbs: a weak rule's name that the tagger reads as verbs only is dropped (信访, 应加强).
_VERBS = frozenset({"v", "vn", "vd"})
#: ... and one it reads as two or more words of verbs, function words and adjectives, outside
#: a list (关|好门窗, 向|其说明, 宫缩|好; but 文玲、斯|想 and the one word 何杨). Adjectives alone
#: say nothing: names are often read as such (严佳, 齐心).
_NO_NAME_PIECE = _VERBS | frozenset({"p", "r", "c", "u", "xc"})
_ADJECTIVES = frozenset({"a", "ad"})
#: jieba's frequency from which a word is common (a name's edge does not tear one).
_COMMON_WORD = 100
#: jieba's frequency from which a word the tagger does not read as a name is no name (信访).
_COMMON_NAME = 1000


def _cleaned(text: str, words: Sequence[Word]) -> list[Word]:
    """The tagger's words with symbols and spaces split off, numbers joined.

    LAC knows no emoji (📌王琴 is read as one name) and may read a line break
    inside a word (楼\n实); a room number it cuts at hyphens (9 - 2 - 501) is one; a name
    it read with a relative's word or a title is cut from them (:func:`_name_word`).
    """
    pieces: list[Word] = []
    for w in words:
        # Most words: nothing to split off. One character tagged w (punctuation) stays as
        # it is too: the split below would make the same word of it.
        if (w.tag == "w" and w.end - w.start == 1) or _PLAIN.fullmatch(text, w.start, w.end):
            pieces.append(w)
            continue
        for m in _SEGMENT.finditer(text, w.start, w.end):
            core = _CORE.search(m.group())
            if core is None:
                pieces.append(Word(m.start(), m.end(), "w"))
                continue
            if core.start():
                pieces.append(Word(m.start(), m.start() + core.start(), "w"))
            pieces.append(Word(m.start() + core.start(), m.start() + core.end(), w.tag))
            if core.end() < len(m.group()):
                pieces.append(Word(m.start() + core.end(), m.end(), "w"))
    pieces = [part for w in pieces for part in _name_word(text, w)]
    out: list[Word] = []
    for w in pieces:
        last = out[-1] if out else None
        if (
            last is not None
            and last.end == w.start
            and _CODE_CHAR.match(text, w.start)
            and _CODE_RUN.fullmatch(text[last.start : w.end])
            and any(c.isdigit() for c in text[last.start : w.end])
        ):
            out[-1] = Word(last.start, w.end, "m")
        else:
            out.append(w)
    return out


#: Relatives' words LAC reads into the name after them (次子|田光辉, 长女|冒白露).
_RELATIVE_OPENINGS = (
    "长子", "次子", "三子", "幼子", "长女", "次女", "三女", "幼女", "儿子", "女儿", "妻子",
    "丈夫", "孙子", "孙女", "外孙", "之子", "之女", "女婿", "儿媳",
)  # fmt: skip
#: Titles LAC reads into the name before them (陶秀兰|阿姨, 冯志刚|大爷).
_TITLE_ENDINGS = ("阿姨", "大爷", "大妈", "奶奶", "爷爷", "大姐", "大哥", "老师", "师傅", "医生")


def _name_word(text: str, word: Word) -> tuple[Word, ...]:
    """A name of LAC's (``PER``) without the relative's word before it or the title after
    it that LAC read into it, where a surname's name of two characters or more is left (次子|
    田光辉, 陶秀兰|阿姨; not 王老师, a surname and a title): the name's own word."""
    if word.tag != "PER" or word.end - word.start < 4:
        return (word,)
    piece = text[word.start : word.end]
    lead = next((k for k in _RELATIVE_OPENINGS if piece.startswith(k)), None)
    if lead is not None and piece[len(lead)] in _STARTS and len(piece) - len(lead) >= 2:
        cut = word.start + len(lead)
        return (Word(word.start, cut, "n"), Word(cut, word.end, "PER"))
    title = next((t for t in _TITLE_ENDINGS if piece.endswith(t)), None)
    rest = piece[: len(piece) - len(title)] if title is not None else ""
    if title is not None and piece[0] in _STARTS and len(rest) >= 2 and rest not in _COMPOUNDS:
        cut = word.end - len(title)
        return (Word(word.start, cut, "PER"), Word(cut, word.end, "n"))
    return (word,)


def _streetlike(word: Word, piece: str) -> bool:
    """A place word at street level or below (湖南路, 春晖苑12幢; not 顺路, a way)."""
    return word.tag == "LOC" and len(piece) >= 3 and _STREET.search(piece) is not None


def _opens(words: Sequence[Word], i: int, text: str) -> bool:
    """Whether an address may start at word ``i``."""
    word, piece = words[i], text[words[i].start : words[i].end]
    if word.tag == "LOC":
        return not piece.endswith(_LABELS)
    if _placelike(word, piece):
        return True
    if _BUILDING.fullmatch(piece):  # 6号楼1单元502 with no place before it
        return True
    following = words[i + 1] if i + 1 < len(words) else None
    return (
        _ADMIN.search(piece) is not None
        and following is not None
        and following.tag == "LOC"
        and word.end == following.start
    )


#: A word that may open an address is a place or an organisation, or it ends as a
#: building (:data:`_BUILDING`) or an administrative level (:data:`_ADMIN`) does.
_OPEN_TAGS = frozenset({"LOC", "ORG"})
_OPEN_LAST = frozenset("号楼栋幢座省市区县旗镇乡道")


def _addresses(text: str, words: Sequence[Word]) -> list[tuple[int, int]]:
    """Runs of place, number, building and room words that read as an address."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w.tag not in _OPEN_TAGS and text[w.end - 1 : w.end] not in _OPEN_LAST:
            i += 1  # what no address opens with (most words): no need to ask _opens
            continue
        if not _opens(words, i, text):
            i += 1
            continue
        word = text[words[i].start : words[i].end]
        first = i
        # A lone administrative suffix (友好|区) or an estate (碧桂园|凤凰城) glued before.
        if first and words[first - 1].end == words[first].start:
            before = text[words[first - 1].start : words[first - 1].end]
            lone_suffix = word in ("区", "县", "镇", "乡", "市") and _HAN_ONLY.fullmatch(before)
            estate = words[first - 1].tag == "ORG" and _ESTATE.search(before) is not None
            if lone_suffix or estate:
                first -= 1
        j = i + 1
        street = _streetlike(words[i], word) or _placelike(words[i], word)
        buildings = 1 if _BUILDING.fullmatch(word) else 0
        while j < len(words) and words[j].start == words[j - 1].end:  # no gap between windows
            piece = text[words[j].start : words[j].end]
            previous = text[words[j - 1].start : words[j - 1].end]
            following = text[words[j + 1].start : words[j + 1].end] if j + 1 < len(words) else ""
            if words[j].tag == "LOC" and len(piece) == 1 and buildings:
                break  # 15层东区: a side of the floor, not a further place
            if (
                words[j].tag == "f"
                and piece in ("前", "后", "东", "西", "南", "北", "上", "下")
                and previous[-1:] in ("镇", "乡", "县", "区")
                and j + 1 < len(words)
                and words[j + 1].tag == "LOC"
                and words[j + 1].start == words[j].end
            ):
                j += 1  # 浆水镇|前|南峪村: a village's name LAC cut in two
                continue
            if (
                piece in ("中", "东", "西", "南", "北")
                and _ROAD.search(previous)
                and j + 1 < len(words)
                and words[j + 1].start == words[j].end
                and _NUMBERED.fullmatch(text, words[j + 1].start, words[j + 1].end)
            ):
                j += 1  # 江南大道|中|168号: the road's middle section, then the number
                continue
            if (
                words[j].tag == "LOC"
                or _placelike(words[j], piece)
                or (words[j].tag == "ORG" and _STREET.search(piece) is not None and street)
            ):
                street = street or _streetlike(words[j], piece) or _placelike(words[j], piece)
            elif _ENDS_BUILDING.fullmatch(piece) and street:
                buildings += 1
            elif _TRIPLE.fullmatch(piece) and street:
                buildings += 1
            elif _NUMBER.fullmatch(piece) and following in _UNIT_WORDS:
                pass
            elif piece and _TAIL.fullmatch(piece):
                street = street or not piece.endswith("段")
                buildings += 1
            elif piece in _UNIT_WORDS and (
                _NUMBER.fullmatch(previous) or previous.endswith("号") or previous[-1:].isdigit()
            ):  # 402 室, 4号 楼, B座5 楼: a new part only after a bare number
                street = True
                buildings += 1 if _NUMBER.fullmatch(previous) else 0
            elif words[j].tag in ("n", "nz") and _ROAD.search(piece) and len(piece) >= 3:
                street = True  # a road LAC read as a noun after a place (西湖区 教工路)
            elif piece in _AREA_WORDS:
                street = True
            elif _NUMBER.fullmatch(piece) and previous.endswith(_BUILDING_END):
                buildings += 1  # a room after its unit (2单元 301)
            else:
                break
            j += 1
        # One word alone must carry a number, a building or a second level (宜都街U座,
        # 解放路43号): a lone 顺路 or 江南路 in prose is a way, not an address. A run of
        # buildings with no place needs a unit and a room after the building (6号楼1单元502;
        # 3号楼2单元 alone reads as part of a notice, not an address).
        lone = j == first + 1 and (not _ONE_WORD.search(word) or _BUS_LINE.fullmatch(word))
        bare = _BUILDING.fullmatch(word) is not None and first == i and buildings < 3
        if street and not lone and not bare:
            out.append((words[first].start, _stairs(text, words[j - 1].end)))
        i = j
    return out


def _verbs_cut(text: str, inside: Sequence[Word], span: Span) -> Span:
    """A rule's address cut after its house number where the tagger reads verbs after it
    (大学东路100号|附近|撞倒|违规|横穿马路: the rules ran on to the 路 of 马路)."""
    numbered = [w for w in inside if _NUMBERED_END.search(text, w.start, w.end)]
    if not numbered:
        return span
    cut = numbered[-1].end
    if any(w.tag == "v" and w.start >= cut for w in inside):
        return Span(span.start, cut, span.entity, span.score)
    return span


def _stairs(text: str, end: int) -> int:
    """An address that ends in a room number and 楼 before 上 / 下 ends before 楼 (788楼下)."""
    if (
        end >= 2
        and text[end - 1] == "楼"
        and text[end : end + 1] in ("上", "下")
        and text[end - 2].isdigit()
    ):
        return end - 1
    return end


#: What may follow a house number or a village and still belong to the address: an annex
#: (附2号, 之三), an estate's or a building's name, then buildings, units and a room
#: (金色家园8栋1703室, 百家湖花园三区15-2-703, 16号楼5门302), or a guesthouse's or a
#: dormitory's room (听风客栈203房); a village's group (三社,
#: 后郢组, 弄亮屯12号). At least one building or group part must follow the name.
_NUMERAL = "[0-9]+|[一二三四五六七八九十]+|[A-Z][0-9]?"
_ROOM_WORD = "(?:室(?![温内外友])|房(?![产东租价子屋间]))"
_ANNEX = re.compile(
    rf"(?:附[0-9]+号|之[一二三四五六七八九十0-9]+)?院?"
    rf"(?:[\u4e00-\u9fff]{{2,8}}?)?"
    rf"(?:(?:{_NUMERAL})(?:期|区|栋|幢|座|号楼|单元|门))+"
    rf"(?:[0-9]+(?:-[0-9]+)*(?:{_ROOM_WORD}|户)?)?"
    rf"|附[0-9]+号(?:[0-9]+{_ROOM_WORD})?|之[一二三四五六七八九十]+(?:[0-9]+{_ROOM_WORD})?"
    rf"|-?[0-9]+(?:-[0-9]+)+{_ROOM_WORD}?"
    rf"|(?!对面|旁边|附近|隔壁)[^\W\d_的到搬住在至往]{{2,8}}?"
    rf"(?:客栈|宾馆|酒店|旅馆|公寓|大厦|宿舍)[0-9]{{3,4}}{_ROOM_WORD}"
)
_ANNEX_UNNAMED = re.compile(
    rf"(?:(?:{_NUMERAL})(?:期|区|栋|幢|座|号楼|单元|门))+(?:[0-9]+(?:-[0-9]+)*(?:{_ROOM_WORD}|户)?)?"
    rf"|-?[0-9]+(?:-[0-9]+)+{_ROOM_WORD}?"
)
#: After a house number, a room alone (固戍一路28号|303房, 港口一路33号|401).
_NUMBER_ROOM = re.compile(
    rf"[0-9]{{3,4}}{_ROOM_WORD}?(?![0-9A-Za-z元米年万平号人个次%千伏吨斤克度多余届])"
)
#: An estate's name ending like one, then its buildings, after a road with no number.
_ESTATE_AFTER_ROAD = re.compile(
    r"[\u4e00-\u9fff]{1,6}(?:家园|花园|小区|新村|公寓|山庄|苑|园|城)"
    r"(?:(?:[0-9]+|[一二三四五六七八九十]+|[A-Z][0-9]?)(?:期|区|栋|幢|座|号楼|单元))+"
    r"(?:[0-9]{3,4}(?:室|房)?)?"
)
#: A road's section after its name (五四路东段).
_ROAD_SECTIONS = frozenset({"东段", "西段", "南段", "北段", "中段"})
#: After a building's number (3号楼2): its door or unit and the room (门401, 单元1502).
_DOOR = re.compile(rf"(?:门|单元)[0-9]+{_ROOM_WORD}?")
#: A floor in words at an address's end (百隆广场一楼, 12号楼一层): where the writer is, not
#: the address (a floor in digits, 3栋5楼, stays: it is part of a flat's number).
_FLOOR = re.compile(r"(?<=[^0-9一二三四五六七八九十])[一二三四五六七八九十]+(?:楼|层)$")
#: Words that may open a run the tagger reads but are no part of the address.
_NOT_OPENING = ("隔壁", "位于", "住在", "郊区", "致", "在", "对", "自", "另")
_VILLAGE_GROUP = re.compile(
    rf"(?:(?:{_NUMERAL})(?:社|组|队|屯)|[\u4e00-\u9fff]{{1,3}}?(?:组|屯))(?:[0-9]+号)?"
    r"|(?![有是在和与的了到从])[\u4e00-\u9fff]{2,5}[0-9]+号(?![0-9A-Za-z\u4e00-\u9fff])"
)


_BARE_ROAD = re.compile(
    r"[\u4e00-\u9fff]+(?:路|街|大道|大街|巷|胡同|(?<!街)道)(?:[东西南北中一二三四五六七八九十]段)?"
)
#: One place somewhere on a road, not its number (劳动东路|一处超市, 友好南路|一栋写字楼): 一
#: and a measure word after the road; not a building's number (劳动东路一栋2单元, 一幢三单元).
_ONE_PLACE = (
    "一(?:处|家|个|所|条|(?:栋|幢|座|间)(?![0-9A-Za-z０-９一二三四五六七八九十]|单元|号|层|楼|室))"
)
_ONE_ON_ROAD = re.compile(f"(?:路|街|大道|大街|巷|段)({_ONE_PLACE})")
_ONE_AFTER = re.compile(_ONE_PLACE)
_HIGHWAY = re.compile(r"[GSXY]?[0-9]+(?:国道|省道|县道|乡道)")
#: A road's part or a place on it that would make it an address.
_ROAD_PLACE = frozenset("号栋幢座室村组苑园城院楼")


def _bare_road(text: str, span: Span) -> bool:
    """A road with no number, alone or after its city and district, and no word of a home or
    a parcel just before it (在梁溪区中山路|违法停车, 沿G320国道): where something happened,
    no address (but 住址：北京市朝阳区三里屯路, 家住…北京路)."""
    piece = text[span.start : span.end]
    if _HIGHWAY.fullmatch(piece) is not None:
        return True  # 沿G320国道: a highway, no address
    road = re.split("[省市区县旗镇乡]", piece)[-1]  # 城关区|北京中路: the road's own name
    if _BARE_ROAD.fullmatch(piece) is None or any(c in _ROAD_PLACE for c in road):
        return False
    after = text[span.end : span.end + 1]
    numbered = after.isdigit() or after in "甲乙丙丁一二三四五六七八九十"
    if after and numbered and _ONE_AFTER.match(text, span.end) is None:
        return False
    return not any(c in HOME_CUES for c in text[max(0, span.start - 3) : span.start])


def _touching_joined(
    found: list[Span], entity: str, joins: Callable[[Span, Span], bool]
) -> list[Span]:
    """Findings of ``entity`` that ``joins`` says belong together, in text order, as one."""
    spans = sorted(s for s in found if s.entity == entity)
    joined: list[Span] = []
    for span in spans:
        if joined and joins(joined[-1], span):
            last = joined[-1]
            joined[-1] = Span(
                last.start, max(last.end, span.end), entity, max(last.score, span.score)
            )
        else:
            joined.append(span)
    if len(joined) == len(spans):
        return found
    return [s for s in found if s.entity != entity] + joined


def _adjacent_joined(found: list[Span]) -> list[Span]:
    """Addresses that touch are one (…金井湾|片区台湾创业园8号楼405: the tagger split it)."""
    return _touching_joined(found, ADDRESS, lambda last, span: last.end >= span.start)


def _annexed(text: str, end: int) -> int:
    """The end of an address after its annex, building and room parts (see :data:`_ANNEX`)."""
    if end == 0 or end >= len(text):
        return end
    last = text[end - 1]
    if last == "村" or text[end - 2 : end] == "社区":
        m = _VILLAGE_GROUP.match(text, end)  # 石桥村五组12号, 河口社区堤下组23号
    elif last in "路街道" and text[end : end + 2] in _ROAD_SECTIONS:
        return end + 2  # 五四路东段
    elif last in "路街" and (m := _ESTATE_AFTER_ROAD.match(text, end)) is not None:
        return m.end()  # 东风路|金色家园B区9栋: an estate's buildings after a road, no number
    elif last == "号" and text[end] == "楼" and text[end + 1 : end + 2] not in _NOT_BUILDING:
        return _annexed(text, end + 1)  # 文华里7号楼 (not 7号楼下: downstairs)
    elif last.isdigit():  # after a room number, no estate's name (2801|窗外正对另一栋)
        m = _ANNEX_UNNAMED.match(text, end) or _DOOR.match(text, end)
    elif last in "号楼栋幢座院":
        m = _ANNEX.match(text, end)
        if m is None and last == "号":
            m = _NUMBER_ROOM.match(text, end)
    else:
        m = None
    return m.end() if m is not None else end


def _edged(text: str, by_start: dict[int, Word], by_end: dict[int, Word], span: Span) -> Span:
    """An address found by fusion with its edges set right.

    Its end goes past annexes and rooms (:func:`_annexed`) and stops before a
    floor in words or 楼 before 下 (4栋楼下); its start leaves out a word that is
    no part of it (隔壁, 致), a character that closes a common word
    before it (反|映锦绣华庭…; not 到|达州市), and takes in an estate's name the tagger
    reads just before a building (碧桂园二期|18栋); then what is said right after it sets
    its end (:func:`_said_end`).
    """
    start, end = span.start, _annexed(text, span.end)
    if text[span.end - 1 : span.end] in ("路", "街") and any(
        w.tag in _NOT_IN_ANNEX
        for w in (by_start.get(i) for i in range(span.end, end))
        if w is not None
    ):
        end = span.end  # 中山路|走到|万达城2栋: an estate after a road, but a verb in between
    if text[end - 1 : end] in ("栋", "幢", "座", "元") and text[end - 2 : end] != "万元":
        room = _GLUED_ROOM.match(text, end)
        if room is not None and (text[end - 1] != "元" or text[end - 2 : end] == "单元"):
            end = room.end()  # 万科城市花园16栋|802: the room, read glued to what follows
    if text[end : end + 1] == "户" and _ROOM_END.search(text, start, end):
        end += 1  # …1单元601户
    if text[end - 2 : end] in ("村村", "组村") and text[end : end + 1] in _VILLAGE_AFTER:
        end -= 1  # …桑木村|村口, 二组|村道: the village's entrance or road, not a second 村
    if text[end - 1 : end] in ("室", "房") and _ROOM_WORD_AFTER.match(text, end - 1) is not None:
        end -= 1  # …401|室温, 302|房东: the unit opens the next word
    if (whole := _WHOLE_BUILDING.search(text, start, end)) is not None:
        end = whole.start()  # 天华苑4栋|整栋楼: the whole building, said after the address
    floor = _FLOOR.search(text, start, end)
    if floor is not None and floor.start() - start >= 4 and not _floor_said(text, by_start, end):
        end = floor.start()
    if end - start > 6 and text[end - 3 : end] in ("号小区", "弄小区"):
        end -= 2  # 吉华路338号|小区: the estate at that number, not part of the address
    if text[end - 1 : end] == "楼" and text[end - 2 : end - 1] in ("栋", "幢", "座"):
        if text[end : end + 1] in ("下", "上", "前", "后", "顶", "道"):
            end -= 1
    if text[end - 2 : end] in ("楼下", "楼上", "楼前", "楼后") and (
        text[end - 4 : end - 2] == "号楼" or text[end - 3 : end - 2] in ("栋", "幢", "座")
    ):
        end -= 2  # 翠华小区12号楼|楼下: the LOC word took downstairs in
    if (facility := _FACILITY.search(text, start, end)) is not None:
        end = facility.start()  # 锦绣大道16号|智慧物流园: a business at the number
    opener = by_start.get(start)
    if (
        opener is not None
        and opener.tag == "v"
        and opener.end - start >= 2
        and end - opener.end >= 4
        and _SUFFIX_FIRST.match(text, opener.end) is None
    ):
        start = opener.end  # 巡查|高新区…: a verb the rules' run took in (not 建设|大道188号)
    for word in _NOT_OPENING:
        if text.startswith(word, start) and end - start - len(word) >= 4:
            lone = by_start.get(start)
            if len(word) == 1 and (lone is None or lone.end != start + 1):
                break  # 致远路: 致 opens the road's name unless the tagger reads it alone
            start += len(word)
            break
    if (
        0 < start < end - 4
        and word_frequency(text[start - 1 : start + 1]) >= _COMMON_NAME
        and word_frequency(text[start : start + 2]) == 0
        and text[start + 1] not in _PLACE_PART
    ):
        start += 1  # 反映 is a word, 映锦 none: 映 is no part of the address (到|达州市 stays)
    if _BUILDING_START.match(text, start):
        start = min(_estate_before(text, by_end, start), _estate_opened(text, by_start, start))
    for label in _LABELS:  # (家庭)住|址西藏…: a form's label read into the address
        at = text.find(label, max(0, start - 1), start + 6)
        if at >= 0 and end - (at + len(label)) >= 4:
            start = max(start, at + len(label))
    start = _admin_before(text, by_end, start)
    tail = _BUILDING_TAIL.match(text, end) if text[end - 1 : end] not in _NO_TAIL_AFTER else None
    if tail is not None and not any(
        w.tag in _NOT_IN_ANNEX and not _inside_name(text, w)
        for w in (by_start.get(i) for i in range(end, tail.end()))
        if w is not None
    ):
        end = tail.end()  # …华荣时代大厦|1802, …88号|财富大厦26楼, …魅力之城|38-1003
    return Span(start, _said_end(text, by_start, start, end), ADDRESS, span.score)


#: A floor in words right after an address (…226号|二楼, …十二楼|东户), and the flat's side.
_FLOOR_AFTER = re.compile(r"负?[一二三四五六七八九十]+(?:楼|层)(?:[东西南北中]户)?")
#: A flat's side after its floor (…6楼|西户).
_SIDE = re.compile(r"[东西南北中]户")
#: What may follow a floor that is the address's last part: the sentence goes on (a space or
#: a punctuation mark but a closing bracket or quote, which an aside's floor ends in), not a
#: room of the floor (…226号二楼，已通知 / …107号一楼门面 / …万达广场一层某超市).
_AFTER_FLOOR = frozenset("，。、；！？,;：:（(.!?某")
#: Words a road's or a village's name does not end in alone (建设|大道188号, 前进|村六组, 疏附|
#: 县…: the verb LAC reads is the place's name); not 市区, 村里, 县城 after a verb.
_SUFFIX_FIRST = re.compile(r"(?:大道|大街|路|街|巷|弄|新村|村(?![里民委口头内])|县(?![城里]))")
#: A particle said after an address's number (…8栋602|吧; not 网吧, 酒吧).
_PARTICLES = frozenset("吧吗呢啊呀嘛哦")
#: A lift's number after a building (…18栋|2号电梯, …18栋|2号梯, …华润大厦|3号梯), read
#: into the address or right after it.
_LIFT = re.compile(r"(?<=[楼栋幢座厦元区])[0-9]+号(?:电?梯)?$")
#: After a village's committee, the natural village it holds (牙胡村委|会初好村, 乌石|村委会大仍村).
_COMMITTEE_VILLAGE = re.compile(
    r"(?:村委会|会)?([\u4e00-\u9fff]{1,4}?(?:村|屯|寨))(?![委民两干道口头])"
)
#: After a number, one building somewhere there, not the building's number (…37号|一居民楼,
#: …463号|一栋6层住宅楼; but 一栋2单元 is building 1).
_ONE_BUILDING = re.compile(
    r"(?<=[0-9]号)一(?:(?:居民|住宅|写字|办公|商住)楼|(?:栋|幢|座)[0-9一二三四五六七八九十]+层)"
    r"|(?<=[0-9]号|单元|[0-9]栋|[0-9]幢)一(?:间|套)房"
)
_OF_AFTER_NUMBER = re.compile(r"(?<=[0-9]号)的")
#: A question about a building (…甲5号院|几号楼？), not 几江街道 or 几何小区.
_WHICH = re.compile(r"几(?:号|栋|幢|座|楼|单元|层|室|户)")
#: A village, then the name of a business or a body it names (桐木村|正山茶叶专业合作社,
#: 张庄村|村两委): no road's, street's or number's character in between, and not a road
#: named after the village (新村路, 固戍村正街).
_VILLAGE_BUSINESS = re.compile(
    r"(?<!新)[村屯组](?![路街道巷])"
    r"[^\W\d_村屯组镇乡路街道巷弄号一二三四五六七八九十]{1,8}?"
    r"(?:专业合作社|合作社|有限公司|公司|两委|党支部|党总支|卫生室|小学|幼儿园|养殖场|加工厂)"
)
#: A gate at an address's end after a number, an estate or a building (…126号百隆广场|北门,
#: …1666号|东门); not a place named after a gate (小西门, 老西门).
_GATE = re.compile(r"(?<=[0-9号场厦区园苑城院校馆])[东西南北正]门$")
#: A room's unit after its number (1503|房, 208|房间): never a 房产 or a 房东, nor 室 of 室内
#: (…301|室内燃气阀门: indoors), as :data:`_ROOM_WORD_AFTER` cuts it.
_ROOM_AFTER = re.compile(f"房间|{_ROOM_WORD}")
_ROOM_NUMBER = re.compile(r"(?<![0-9])[0-9]{3,4}$")
_CHINESE_DIGITS = frozenset("一二三四五六七八九十")
#: What an address's number ends in, before a particle (…602|吧, …7栋|吧; not 网吧, 酒吧).
_NUMBER_ENDS = DIGITS | frozenset("号栋幢座室楼层元户")
#: Tags of words no village's name holds (到村, 在村).
_NOT_VILLAGE = frozenset({"v", "vd", "p", "u", "r", "c", "xc", "w", "m", "TIME", "PER"})


def _floor_said(text: str, by_start: dict[int, Word], at: int) -> bool:
    """Whether a floor in words that ends at ``at`` is the address's last part: the sentence
    goes on after it (a space, a comma, 某超市, a verb: …二楼，, …三楼|碰头), where a noun
    after it is a room of that floor (…一楼|商铺, …一楼|会议室: where something is, no
    address). On the 35 marked sets of 2026-12-05 to 12-07, 13 marked floors and 2 unmarked
    ones are followed so, 32 unmarked floors otherwise."""
    if at >= len(text) or text[at].isspace() or text[at] in _AFTER_FLOOR:
        return True
    word = by_start.get(at)
    return word is not None and word.tag in ("v", "vd")


#: Digits a house number ends in, and what after its courtyard's 院 makes the 院 a place in
#: or a part of it (院内, 院墙, 院坝, 院门, 院子, 院落, 院外): on the marked sets, 院 after a
#: number belongs to the address 52 times, not 17, 13 of them before these.
_NUMBER_DIGITS = frozenset("0123456789一二三四五六七八九十")
_NOT_COURTYARD = frozenset("内墙坝门子落外")
#: A building's stairwell named by its side (…5号楼|东单元; a basement after it, 地下室, the
#: marked sets take in once and leave out once).
_BUILDING_AFTER = re.compile(r"[东西中]单元")


def _said_end(text: str, by_start: dict[int, Word], start: int, end: int) -> int:
    """The end of an address, set by what is said right after it (each check chosen on the
    35 marked sets of 2026-12-05 to 12-07, the counts in ``benchmarks/README.md``).

    Left out: a question (…5号院|几号楼), a particle after a number (…602|吧), a home
    (…301|家的水管), a gate (…广场|北门), a lift's number (…18栋|2号电梯), one building at
    the number (…37号|一居民楼), 的 after a number (…17号|的3栋), a business the village
    names (…大边村|绿橙种植专业合作社). Taken in: a room's unit after its number (…1503|房),
    the courtyard of a number (…15号|院里, not …31号|院内: :data:`_NOT_COURTYARD`), a
    building's side (…5号楼|东单元), not a committee's 村 (…毛纳村|村“两委”),
    a floor in words and the flat's side where the sentence goes on (…226号|二楼，,
    :func:`_floor_said`), the village a committee holds (牙胡村委会|初好村).
    """
    if end - start < 4:
        return end
    which = _WHICH.search(text, start, end)
    if which is not None and which.start() - start >= 4:
        end = which.start()
    if text[end - 1] in _PARTICLES and text[end - 2] in _NUMBER_ENDS:
        end -= 1
    if text[end - 1] == "家" and text[end - 2] in DIGITS:
        end -= 1
    if _GATE.search(text, start, end) is not None and end - 2 - start >= 4:
        end -= 2
    if (room := _ROOM_AFTER.match(text, end)) is not None and _ROOM_NUMBER.search(text, start, end):
        return room.end()
    if text[end - 1] in _CHINESE_DIGITS and text[end : end + 1] in ("楼", "层"):
        floor_start = end - 1  # …12号二|楼: the tagger cut inside the floor
        while floor_start > start and text[floor_start - 1] in _CHINESE_DIGITS:
            floor_start -= 1
        if _floor_said(text, by_start, end + 1):
            end += 1
        elif floor_start - start >= 4:
            end = floor_start
    lift = _LIFT.search(text, start, end)
    if lift is not None and (text[end - 1] == "梯" or text.startswith(("电梯", "梯"), end)):
        end = lift.start()
    if text[end - 2 : end] == "村委" or text.startswith("村委会", end):
        held = _COMMITTEE_VILLAGE.match(text, end)
        if held is not None:
            inside = (by_start.get(i) for i in range(held.start(1), held.end()))
            if not any(w is not None and w.tag in _NOT_VILLAGE for w in inside):
                group = _VILLAGE_GROUP.match(text, held.end())  # …毛贵村|二队
                return group.end() if group is not None else held.end()
    if (one := _ONE_BUILDING.search(text, start, end)) is not None and one.start() - start >= 4:
        end = one.start()
    if (of := _OF_AFTER_NUMBER.search(text, start, end)) is not None and of.start() - start >= 4:
        end = of.start()
    village = _VILLAGE_BUSINESS.search(text, start, end + 14)  # no business name is longer
    if village is not None and start < village.start() + 1 < end < village.end():
        end = village.start() + 1  # the span ends inside the business's name
    verb = by_start.get(end - 2)
    if (
        verb is not None
        and verb.end == end
        and verb.tag == "v"
        and AREAS_ONLY.fullmatch(text, start, verb.start) is not None
    ):
        return verb.start  # 红河州元阳县|召开: areas and a verb (then no address: _kinds.placed)
    if text[end - 2 : end] == "村村" and text.startswith(
        ("“两委", '"两委', "两委", "委", "民"), end
    ):
        end -= 1  # …毛纳村|村“两委”: the village's committee after it (王村村 is a village)
    if text[end - 1] in "楼栋幢座" and (unit := _BUILDING_AFTER.match(text, end)) is not None:
        return unit.end()  # …5号楼|东单元
    if (
        text[end - 1] == "号"
        and text[end - 2] in _NUMBER_DIGITS
        and text.startswith("院", end)
        and text[end + 1 : end + 2] not in _NOT_COURTYARD
    ):
        return end + 1  # …胡同15号院|里的西厢房, …2号院，; not …31号|院内, …106号|院墙
    last = text[end - 1]
    if last in _NO_TAIL_AFTER or last in "路街道巷":
        return end
    floor = _FLOOR_AFTER.match(text, end)
    if floor is not None and _floor_said(text, by_start, floor.end()):
        return floor.end()
    if last in "楼层" and (side := _SIDE.match(text, end)) is not None:
        if _floor_said(text, by_start, side.end()):
            return side.end()
    return end


def _inside_name(text: str, word: Word) -> bool:
    """Whether ``word`` is a lone 之 between Chinese characters: part of an estate's name
    (魅力|之|城), not a particle."""
    return (
        text[word.start : word.end] == "之"
        and word.start > 0
        and _HAN.match(text, word.start - 1) is not None
        and _HAN.match(text, word.end) is not None
    )


#: A building's or an estate's number, floor or room right after an address: 1802, 38-1003,
#: 7门402号, B座, 西楼12层, W2区; optionally after the building's name (财富大厦26楼). Floors
#: in words (二楼会议室) and village groups are left to the other rules.
_TAIL_UNIT = r"(?:号楼|号|栋|幢|座|单元|室|房(?![产东租价子屋间])|楼|层|门|区)"
_TAIL_CODE = rf"(?:[东西南北主副]楼)?(?:[A-Za-z]?[0-9]+|[A-Za-z](?=[座区栋幢])){_TAIL_UNIT}"
_BUILDING_TAIL = re.compile(
    r"(?:[\u4e00-\u9fff]{0,8}?(?:大厦|中心|广场|大楼|写字楼|商厦|城|花园|公寓|苑|小区|家园|首座))?"
    rf"(?:(?:{_TAIL_CODE}){{1,4}}(?:[0-9]{{3,4}}(?![0-9\u4e00-\u9fff]))?"
    r"|[0-9]+-[0-9]+(?:-[0-9]+)?|[0-9]{3,4}(?![0-9\u4e00-\u9fff]))"
    r"(?![0-9A-Za-z元米年人万平块斤个次%多余届岁辆名户家条件位台起电线车期点分号组])"
)
#: Ends after which a number is no part of the address (江宁区|2024年, 南京市|3个).
_NO_TAIL_AFTER = frozenset("省市区县镇乡州旗")


#: An address that ends on a house number, a building or a room (端履门32号, 5栋, 1203室).
_NUMBERED_END = re.compile(r"[0-9]+(?:号|号楼|栋|幢|座|单元|室)$")
#: A room's number right after a building or a unit, no unit of measure after it (16栋802).
_GLUED_ROOM = re.compile(r"[0-9]{3,4}(?:室|房)?(?![0-9A-Za-z元米年人万平块斤个次号%多余届])")
#: What follows a village's 村 in a word about the village (村口, 村道, 村西头), not its name.
_VILLAGE_AFTER = frozenset("口头里道东西南北小部委民干两")
_ROOM_WORD_AFTER = re.compile(r"室[温内外友]|房[产东租价子屋间]")
_WHOLE_BUILDING = re.compile(r"(?<=[栋幢座楼])整(?:栋|幢|座)楼?$")
#: A business park, a market or a centre right after a house number, at an address's end:
#: where someone works or shops, named after the address (16号|智慧物流园, 3号|华润家具城).
_FACILITY = re.compile(
    r"(?<=[0-9]号)[\u4e00-\u9fff]{0,6}(?:物流园|产业园|工业园|科技园|家具城|建材城|商城|市场|基地"
    r"|服务中心|社区|顶层|底层|底商|顶楼)$"
)
#: A bus line (K9路, 302路): no address.
_BUS_LINE = re.compile(r"[A-Za-z]*[0-9]+路")
#: A house number alone (168号, 3号).
_NUMBERED = re.compile(r"[0-9]+号")
#: Tags of a word that is no part of what follows an address (走到, 旁边的).
_NOT_IN_ANNEX = frozenset({"v", "vd", "p", "u", "f", "c", "d"})
#: After 楼: downstairs, upstairs … (7号楼下 is at number 7, not in building 7).
_NOT_BUILDING = frozenset("下上前后顶道梯")
#: Characters that end a place's name: an address cut before one is cut inside a name.
_PLACE_PART = frozenset("省市区县州旗盟镇乡村路街道巷弄")
#: A room's number after its building or unit, at an address's end (1单元601).
_ROOM_END = re.compile(r"(?:单元|栋|幢|号楼|门)[0-9]{3,4}$")
#: An address that opens at a building's number (18栋2单元703).
_BUILDING_START = re.compile(r"[0-9]+(?:栋|幢|座|号楼)")


#: Common nouns that close an estate's name (金色|家园, 阳光|花园) before its building.
_ESTATE_NOUNS = frozenset({"家园", "花园", "小区", "新村", "公寓", "山庄", "名苑", "新城"})


def _estate_before(text: str, by_end: dict[int, Word], start: int) -> int:
    """The start of an estate's name (and its phase, 二期) the tagger reads right before a
    building's number: at most two words, places, organisations or rare nouns."""
    estate = False
    for _ in range(3):
        w = by_end.get(start)
        if w is None:
            break
        piece = text[w.start : w.end]
        phase = re.fullmatch(r"(?:[0-9]+|[一二三四五六七八九十]+)(?:期|区)", piece) is not None
        rare = w.tag in ("n", "nz") and word_frequency(piece) < _COMMON_WORD
        # 金色|家园|6幢: an estate's common noun, and the word that names it
        named = estate and w.tag in ("n", "a", "nz") and len(piece) == 2
        estate = w.tag == "n" and piece in _ESTATE_NOUNS
        rare = rare or estate or named
        if not (_HAN.match(piece) or phase) or not (phase or w.tag in ("LOC", "ORG") or rare):
            break
        if not 2 <= len(piece) <= 8:
            break
        start = w.start
    return start


#: Words that open an estate's name before its building (我家在|金地格林小城12栋, 房号|…),
#: longest first.
_ESTATE_OPENERS = (
    "我住在",
    "我家在",
    "家住在",
    "住在",
    "家在",
    "我住",
    "家住",
    "房号",
    "位于",
    "住",
    "在",
)


#: Words for a kind of area, no place's name (郊区, 市区, 辖区).
_AREA_NOUNS = frozenset(
    ("郊区", "城区", "市区", "小区", "园区", "社区", "辖区", "景区", "山区", "地区", "老区", "片区")
)
#: The end of a province's, a prefecture's, a county's or a town's name.
_ADMIN_END = re.compile(r"(?:省|自治区|市|自治州|州|盟|地区|县|自治县|旗|区|镇|乡|街道)$")


def _admin_before(text: str, by_end: dict[int, Word], start: int) -> int:
    """The start of the administrative names the tagger reads right before an address
    it split off (青海省|海南藏族自治州|共和县|倒淌河镇|哈乙亥村6号): places, and any word of
    three characters or more that ends like one (LAC read 倒淌河镇 as a verb)."""
    while (w := by_end.get(start)) is not None:
        piece = text[w.start : w.end]
        if not (_HAN_ONLY.match(piece) and _ADMIN_END.search(piece)):
            break
        if len(piece) < 3 and (w.tag != "LOC" or piece in _AREA_NOUNS):
            break  # 郊区|鱼嘴镇…: the outskirts, no place's name
        start = w.start
    return start


def _estate_opened(text: str, by_start: dict[int, Word], start: int) -> int:
    """The start of an estate's name between a clause's start or an opener
    (:data:`_ESTATE_OPENERS`) and a building's number: two to eight characters, none a
    verb or a function word the tagger reads (请|到12栋 is none); ``start`` where there is
    none."""
    run = start
    while run > 0 and start - run < 12 and re.match(r"[\u4e00-\u9fffA-Za-z]", text[run - 1]):
        run -= 1
    if run > 0 and start - run >= 12:
        return start
    for opener in _ESTATE_OPENERS:
        if text.startswith(opener, run) and start - run - len(opener) >= 2:
            first = by_start.get(run)
            if len(opener) == 1 and first is not None and first.end > run + 1:
                break  # 住户|刘强3幢: 住 opens a word, no estate
            run += len(opener)
            break
    if not 2 <= start - run <= 8 or not _HAN.match(text, run):
        return start
    words = [w for w in (by_start.get(i) for i in range(run, start)) if w is not None]
    if any(
        w.tag in _NOT_IN_ANNEX
        or w.tag == "PER"
        or w.end > start
        or text[w.start : w.end] in NOT_NAMES
        for w in words
    ):
        return start  # 业主王建国12栋…: a role and a name, no estate
    return run


def _placelike(word: Word, text: str) -> bool:
    """An ``ORG`` word that is an address (北京市海淀区学院路30号 read as an organisation)."""
    return word.tag == "ORG" and _ORG_ADDRESS.search(text) is not None


def _holds(text: str, word: Word) -> bool:
    """Whether a word past the tagger's run may still belong to the address (香榭|里|6幢)."""
    piece = text[word.start : word.end]
    if piece[0] in "室房" and piece not in _UNIT_WORDS:
        return False  # 401|室温, 302|房东: a word that opens with a room's unit
    if word.tag in ("LOC", "ORG", "m", "q", "xc", "nz"):
        return True
    if word.tag in ("n", "nz") and _HAN_ONLY.fullmatch(piece) and 2 <= len(piece) <= 6:
        return word_frequency(piece) < _COMMON_WORD  # an estate's name (香榭), not 会议室
    return piece in _UNIT_WORDS or piece in _AREA_WORDS or (word.tag == "f" and piece == "里")


def _listed(text: str, words: Sequence[Word], names: Sequence[Span]) -> list[Span]:
    """Names beside names in a list (靳国栋、訾文娟、高峰、常青): an item of two or three
    Chinese characters that opens with a surname, next to a name across 、, is a name too,
    whatever word it also is (高峰, 常青, 花蕾)."""
    taken = {(n.start, n.end) for n in names}
    by_start = {w.start: w for w in words}
    by_end = {w.end: w for w in words}
    added: list[Span] = []
    queue = sorted(taken)
    while queue:
        start, end = queue.pop()
        neighbours = []
        if text[end : end + 1] == "、" and (after := by_start.get(end + 1)) is not None:
            neighbours.append(after)
        if start > 0 and text[start - 1] == "、" and (before := by_end.get(start - 1)) is not None:
            neighbours.append(before)
        for w in neighbours:
            item = text[w.start : w.end]
            if (w.start, w.end) in taken or w.tag in _NOT_LISTED:
                continue
            if not (_HAN_ONLY.fullmatch(item) and 2 <= len(item) <= 3):
                continue
            if not (item[0] in _SURNAMES or item.startswith(_COMPOUNDS)) or _title(item):
                continue
            following = by_start.get(w.end)
            if (
                item[-1] in ROLE_SUFFIXES
                or item in _ROLE_WORD_SET
                or (following is not None and following.tag == "PER")
            ):
                continue  # a role before the next name (、楼长李婷), not a name
            if any(_overlaps((w.start, w.end), t) for t in taken):
                continue
            taken.add((w.start, w.end))
            queue.append((w.start, w.end))
            added.append(Span(w.start, w.end, PERSON, TAGGER_PERSON))
    return added


#: Tags of list items that are no name whatever their neighbours (verbs, times, places).
_NOT_LISTED = frozenset({"v", "vd", "p", "c", "u", "TIME", "LOC", "w", "m", "q", "xc"})


#: Where an undotted Uyghur, Tibetan or Mongolian name may stand: after a context or role
#: word (牧民达瓦次仁, 其妻乌云其木格) or a bed or room number (8床次仁卓玛) ...
_MINORITY_LEAD = re.compile(f"(?:{PERSON_CONTEXT_LEAD_RE}|[0-9]{{1,4}}[床房])$")
#: ... or after a non-Chinese character and before one or before these (其其格奶奶, 央金说).
_MINORITY_FOLLOW = frozenset("说称讲问奶爷家阿的老由")
#: ... or at a clause's start when four characters or more long (。格日勒图承认, ；乌云其其格住址).
_CLAUSE_START = frozenset("。；;！？!?：:，,\n")


@functools.cache
def _short_slot() -> re.Pattern[str]:
    """Two-character Tibetan, Mongolian and Uyghur names (次旦, 格桑, 图雅) in a name's slot:
    after a context word, before a delimiter or a verb after names. Syllables that are
    common words (阿曼, 乌兰) are left out."""
    short = sorted(s for s in SYLLABLES if len(s) == 2 and word_frequency(s) < _COMMON_WORD)
    return re.compile(
        f"(?:{PERSON_CONTEXT_LEAD_RE})(?P<name>{'|'.join(short)})"
        f"(?=[，,、。；;：:（(]|{GLUED_WORD}|[已在说等和与老])"
    )


def _short_minority(text: str) -> list[tuple[int, int, bool]]:
    """The short names of :func:`_short_slot` in ``text`` (placed: a slot is a name's place)."""
    if _short_opening().search(text) is None:
        return []  # most texts: no two-character syllable, the slot regex need not run
    return [(*m.span("name"), True) for m in _short_slot().finditer(text)]


@functools.cache
def _short_opening() -> re.Pattern[str]:
    return re.compile("|".join(sorted(s for s in SYLLABLES if len(s) == 2)))


def _yi_placed(text: str, words: Sequence[Word], start: int, end: int) -> bool:
    """A four-character Yi name of a distinct clan stands anywhere (邻户吉克石布家), unless it
    is a place's name's piece (吉克斯坦, 吉木萨尔县, 塔吉克自治县, 吉布提港)."""
    return (
        end - start == 4
        and text[start : start + 2] in DISTINCT_YI_CLANS
        and text[end - 1] not in _PLACE_PART
        and text[end : end + 1] not in _PLACE_PART
        and text[start - 1 : start] != "塔"
        and text[end - 2 : end] not in ("斯坦", "自治")
        and text[end - 1 : end + 1] not in ("港口", "提港")
        and text[end - 1] not in "港岛"
    )


def _minority(text: str, words: Sequence[Word], found: list[Span]) -> list[Span]:
    """Uyghur, Tibetan and Mongolian names (:mod:`anonymize.detect._minority`) in their place.

    A dotted one stands anywhere; an undotted one under a tagger ``PER`` word
    or in a name's place (:data:`_MINORITY_LEAD`, :data:`_MINORITY_FOLLOW`).
    Each replaces the names found inside or across it (阿依古丽 · 买买|提现).
    """
    spans = minority_names(text) + _short_minority(text)
    if not spans:
        return found
    tagged = [(w.start, w.end) for w in words if w.tag == "PER"]
    names: list[Span] = []
    names_found = [s for s in found if s.entity == PERSON]
    for start, end, dotted in spans:
        if "·" not in text[start:end] and any(
            s.start < start < s.end or s.start < end < s.end
            for s in names_found
            if _overlaps((s.start, s.end), (start, end))
        ):
            continue  # 张|玉珍花了, 患者师|玉珍: the run would cut a name found across it
        if not dotted:
            before = text[start - 1 : start]
            after = text[end : end + 1]
            placed = (
                _MINORITY_LEAD.search(text, max(0, start - 12), start) is not None
                or (not _HAN.match(before) and (not _HAN.match(after) or after in _MINORITY_FOLLOW))
                or (before in _CLAUSE_START and end - start >= 4)  # 。格日勒图承认…
                or _yi_placed(text, words, start, end)
                or any(_overlaps((start, end), t) for t in tagged)
            )
            if not placed:
                continue
        names.append(Span(start, end, PERSON, TAGGER_PERSON))
    if not names:
        return found
    spans_of = [(n.start, n.end) for n in names]
    kept = [
        s
        for s in found
        if s.entity != PERSON or not any(_overlaps((s.start, s.end), n) for n in spans_of)
    ]
    return kept + names


#: Function words that glue onto a two-character name's end (符晓凭身份证, 满江下个月): rare
#: as a given name's last character. Left out: 刚, 明, 和, 才, 将, 从 and 同, which end
#: names as often (王志刚, 李明, 刘德才, 王志同).
_GLUED_LAST = frozenset("跟与在说凭也都又还就已把被给对向下未经用")


#: A name's slot no word fills (市民高峰来电称, 报警人金融，女, 甲方周全，乙方): after a context
#: word, before a delimiter or a verb of reporting. There a name that is also a common word
#: (高峰, 金融, 周全), which the rules refuse anywhere else, is a name.
#: Surname-like prepositions and conjunctions that open no name in a slot (两人|于昨日到场).
_NOT_SLOT_FIRST = frozenset("和于与及向对从在由把被给将为同跟")
_SLOT = re.compile(
    f"(?:{PERSON_CONTEXT_LEAD_RE}|[0-9]{{1,3}}床|[甲乙丙]方|干部)"
    f"(?P<name>(?:{'|'.join(COMPOUND_SURNAMES)}|[{''.join(sorted(_SURNAMES - _NOT_SLOT_FIRST))}])"
    "[\u4e00-\u9fff]{1,2}?)"
    "(?=[，,、（(：:。；;]|反映|来电|报警|表示|称|说|等"
    f"|{GLUED_WORD}|[与和也已今到家在]|入户|接待|陪同|于(?=[0-9一二三四五六七八九十今昨前去本上下同当次该])|电话)"
)


@functools.cache
def _lead_at_end() -> re.Pattern[str]:
    """A role or kin word (:data:`PERSON_CONTEXT_LEAD`) ending a string."""
    return re.compile(f"(?:{PERSON_CONTEXT_LEAD_RE})$")


def _surname_led(text: str, found: list[Span], words: Sequence[Word]) -> list[Span]:
    """A surname between a role or kin word and a given name the tagger reads alone
    (外公迟|德福/PER, 申请人那/r|振国/PER): one name of three characters."""
    added: list[Span] = []
    for w in words:
        start = w.start - 1
        if w.tag != "PER" or w.end - w.start != 2 or start < 1 or text[start] not in _SURNAMES:
            continue
        if _lead_at_end().search(text, max(0, start - _LEAD_REACH), start) is None:
            continue
        covering = [
            s for s in found if s.entity == PERSON and _overlaps((s.start, s.end), (start, w.end))
        ]
        if any(s.start < start or s.end > w.end for s in covering):
            continue
        found = [s for s in found if s not in covering]
        added.append(Span(start, w.end, PERSON, TAGGER_PERSON))
    return found + added if added else found


#: Kin words whose second character is a surname too (其父|母正在闹离婚).
_KIN_PAIRS = frozenset(
    ("父母", "子女", "儿女", "兄弟", "姐妹", "夫妻", "母子", "父子", "母女", "父女")
)


def _slotted(text: str, found: list[Span], words: Sequence[Word] = ()) -> list[Span]:
    """Names in a name's slot (:data:`_SLOT`) that no finding covers yet, unless the tagger
    reads one verb there (目击者陈述：)."""
    taken = [(s.start, s.end) for s in found if s.entity in FUSED]
    verbs: set[tuple[int, int]] | None = None  # made for the first candidate that asks
    nouns: set[tuple[int, int]] = set()
    persons: set[tuple[int, int]] = set()
    added = []
    minority: list[tuple[int, int]] | None = None
    for m in _SLOT.finditer(text):
        start, end = m.span("name")
        name = m.group("name")
        if _title(name) or name in _ROLE_NOUNS or name in function_words():
            continue
        if len(name) == 3 and name[:2] in function_words() and name[1:] not in GIVEN_NAME_WORDS:
            continue  # 老人申请|居家: a verb, then a word (but 司机修建军)
        if name[0] == "来" or word_frequency(name) >= _EVERYDAY:
            continue  # 来|探望 (a verb, come); 信息, 关系, 安全: far too common to be a name
        if text[start - 1 : start] == "师" or any(_overlaps((start, end), t) for t in taken):
            continue  # 师|傅联系: the role word was 师傅
        if any(c in "的了是着过" for c in name[1:]) or text[start - 1 : start + 1] in _KIN_PAIRS:
            continue  # 警官|的电话; 其父|母正在: the lead and the "surname" are one word
        if verbs is None:
            verbs = {(w.start, w.end) for w in words if w.tag in _VERBS}
            nouns = {(w.start, w.end) for w in words if w.tag in ("n", "nz", "LOC", "ORG")}
            persons = {(w.start, w.end) for w in words if w.tag == "PER"}
        if (start, end) in verbs:
            continue  # 目击者陈述：: the tagger reads one verb there
        if (
            text[end : end + 1] in ("在", "于", "电")
            and word_frequency(name) > 0
            and (start, end) not in persons
        ):
            continue  # 居民房屋|在暴雨中, 客户余额|于…: a word before 在, 于 or 电话 is no name
        if name[0] not in SURNAMES and (start, end) in nouns:
            continue  # 居民岩石, 员工刀具: a rarer surname's "name" the tagger reads as a noun
        if minority is None:
            minority = [(a, b) for a, b, _ in minority_names(text)]
        if any(_overlaps((start, end), t) for t in minority):
            continue  # 办事人买买提明·…: not 买买提
        added.append(Span(start, end, PERSON, TAGGER_PERSON))
    return found + added if added else found


#: A speaker's turn in a chat or a transcript (冷静：收到, 黄河爸爸：老师): two to three
#: Chinese characters (and a parent's word) at a line's, a sentence's or a message's start,
#: before a colon.
_TURN = re.compile(
    r"(?:^|(?<=[。！？!?\s）)」”\]：:]))"
    r"(?P<name>[\u4e00-\u9fff]{2,3}?)(?P<kin>爸爸|妈妈|奶奶|爷爷|外婆|外公|家长)?(?=[：:])"
)


#: What follows a form's label rather than a speaker's words: a number or a code.
_LABEL_VALUE = re.compile(r"\s*[0-9A-Za-z零〇一二三四五六七八九十]")


def _speakers(text: str, found: list[Span]) -> list[Span]:
    """The other speakers of a chat in which a speaker is a name found (储明：…, 伍月：…).

    Where two or more turns open with a speaker and one of them is a name already,
    the others that open with a surname are names too, whatever word they also are
    (冷静, 夏天), unless a title, a role, a function word or far too common a word. In a
    text that says it is a chat (:data:`_CHAT`), speakers that go by a given name alone
    (:func:`_given_alone`) are names too, and so are their other mentions.
    """
    if "：" not in text and ":" not in text:
        return found  # most texts: no colon, no speaker
    turns = list(_TURN.finditer(text))
    if len(turns) < 2:
        return found
    names = {(s.start, s.end) for s in found if s.entity == PERSON}
    chat = _CHAT.search(text) is not None
    if not chat and not any(m.span("name") in names for m in turns):
        return found
    covered = bytearray(len(text))  # what a finding holds: one look a character, not a scan
    for s in found:
        if s.entity in FUSED:
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
    added = []
    for m in turns:
        start, end = m.span("name")
        name = m.group("name")
        if not (name[0] in _SURNAMES or name.startswith(_COMPOUNDS)):
            if not (chat and _given_alone(name)):
                continue
        if _title(name) or name in _ROLE_NOUNS or name in function_words():
            continue
        if word_frequency(name) >= _EVERYDAY or any(covered[start:end]):
            continue
        if name[-1] == "号" or _LABEL_VALUE.match(text, m.end() + 1) is not None:
            continue  # 单号：一二三, 房号：302: a form's label, not a speaker
        covered[start:end] = b"\x01" * (end - start)
        added.append(Span(start, end, PERSON, TAGGER_PERSON))
    # A speaker named by a given name alone is that name where the chat mentions them too
    # (浩然妈妈：周老师，浩然有点发烧).
    for name in sorted(
        {text[a.start : a.end] for a in added if _given_alone(text[a.start : a.end])}
    ):
        for m in re.finditer(re.escape(name), text):
            a, b = m.span()
            if any(covered[a:b]) or _in_place_or_idiom(text, a, b):
                continue  # 一帆|风顺, 欣怡|小区
            covered[a:b] = b"\x01" * (b - a)
            added.append(Span(a, b, PERSON, TAGGER_PERSON))
    return found + added if added else found


def _in_place_or_idiom(text: str, start: int, end: int) -> bool:
    """Whether a given name's mention at ``start`` is part of a place's name or an idiom
    (欣怡|小区门口, 一帆|风顺)."""
    return (
        text[end : end + 1] in _PLACE_NEXT
        or text.startswith(tuple(_ESTATE_NOUNS), end)
        or word_frequency(text[start : start + 4]) > 0
        or word_frequency(text[max(0, start - 2) : end]) > 0
    )


#: Words that say a text is a chat or a transcript (微信群聊, 业主群, 语音转文字).
_CHAT = re.compile("群聊|聊天|微信群|业主群|家长群|语音转文字|群[：:]")


def _given_alone(name: str) -> bool:
    """Whether a chat's speaker may be a given name alone (子轩, 诗琪): two characters, no
    surname's ``小``/``老``/``阿`` before, no role's ending, no title, role or word of use."""
    return (
        len(name) == 2
        and name[0] not in _NOT_FIRST
        and name[0] not in _SURNAMES
        and name[-1] not in ROLE_SUFFIXES
        and name not in _TITLES
        and name not in _ROLE_NOUNS
        and name not in function_words()
        and word_frequency(name) == 0
        and _CHAT.search(name) is None
    )


#: jieba's frequency from which a word in a name's slot is the word (信息 12,256, 关系), not a
#: name (高峰 1,556, 金融 6,455 and 和平 7,998 stay names there).
_EVERYDAY = 9000
#: :data:`ROLE_WORDS` (a tuple: the rules' regexes keep its order) as a set to look up.
_ROLE_WORD_SET = frozenset(ROLE_WORDS)
#: Words in a name's slot that are no names (申请人本人，, 患者家属，).
_ROLE_NOUNS = NOT_NAMES | frozenset(("本人", "家属", "自己", "双方", "单位", "家人", "全家"))


def _role(text: str, span: Span, tagged: Sequence[tuple[int, int]]) -> bool:
    """Whether a name is a role noun (:func:`_role_noun`) to drop: always at four characters
    (班咨询师); at three only when weak and no tagger name lies over it (陈立人 stays)."""
    if not _role_noun(text, span):
        return False
    if span.end - span.start == 4:
        return True
    return span.score < SURE and not any(_overlaps((span.start, span.end), t) for t in tagged)


def _role_noun(text: str, span: Span) -> bool:
    """A "name" of three or four characters that ends like a role (查勘员, 信访人, 班咨询师)."""
    name = text[span.start : span.end]
    if name.startswith(_COMPOUNDS):
        return False
    return (len(name) == 3 and name[-1] in "员人者") or (len(name) == 4 and name[-1] in "员人者师")


@functools.cache
def _given_pattern() -> re.Pattern[str]:
    words = "|".join(sorted(GIVEN_NAME_WORDS, key=len, reverse=True))
    surnames = _SURNAMES - _NOT_SLOT_FIRST - frozenset("区房")
    return re.compile(f"[{''.join(sorted(surnames))}](?:{words})")


#: What follows a place's name, not a person's (建国路, 和平北路, 振兴大道, 红旗村).
_PLACE_NEXT = frozenset("路街道巷弄村镇乡区县市省大北南东西中里屯桥")


def _given_named(text: str, found: list[Span], words: Sequence[Word] = ()) -> list[Span]:
    """A common surname before a given name that is also a word (任和谐得31票, 石平安票数):
    a name, unless the surname closes a word with the character before it (提高|长江) or the
    word's last character opens one with the character after it (国庆|节)."""
    taken = [(s.start, s.end) for s in found if s.entity in FUSED]
    taken += [(w.start, w.end) for w in words if w.tag in ("LOC", "ORG")]
    added = []
    frequencies = two_character_frequencies()
    for m in _given_pattern().finditer(text):
        start, end = m.span()
        if any(_overlaps((start, end), t) for t in taken):
            continue  # 黄金城小区: a place's name
        if any(
            (w.start < start < w.end and word_frequency(text[w.start : w.end]) >= _WORD_FREQUENCY)
            or (w.tag == "TIME" and w.start < end < w.end)
            for w in words
        ):
            continue  # 春华秋实: a dictionary word across the surname; 国庆节: a time
        if start and frequencies.get(text[start - 1 : start + 1], 0) >= _WORD_FREQUENCY:
            continue
        if frequencies.get(text[end - 1 : end + 1], 0) >= THIRD_MIN_FREQUENCY:
            continue
        if text[end : end + 1] in _PLACE_NEXT:
            continue  # 朝阳区建国|路, 天宁区和平|北路: a road named after the word
        added.append(Span(start, end, PERSON, TAGGER_PERSON))
    return found + added if added else found


def _given_word(text: str, span: Span) -> Span:
    """A two-character name read on over a given name that is also a word (景立|新 → 景立新)."""
    surname = _surname_length(text, span.start)
    if span.end - span.start != surname + 1:
        return span
    if text[span.start + surname : span.end + 1] not in GIVEN_NAME_WORDS:
        return span
    if two_character_frequencies().get(text[span.end : span.end + 2], 0) >= THIRD_MIN_FREQUENCY:
        return span  # 调度员刘平|安排: 安排 takes the character
    return Span(span.start, span.end + 1, PERSON, span.score)


#: Compound surnames that are no common word and no place (司马, 东方, 长孙, 西门, 南宫,
#: 濮阳, 钟离 and 闻人 are: 公司马上, 东方红, 长孙女, 南宫市, 闹钟离床): the tagger knows
#: few of them (令狐雪 read as a verb, 上官|红 as a name and an adjective), so one before a
#: given name is a name.
_RARE_COMPOUNDS = tuple(
    c
    for c in COMPOUND_SURNAMES
    if c not in ("司马", "东方", "长孙", "西门", "南宫", "濮阳", "钟离", "闻人")
)
_RARE_COMPOUND = re.compile(f"(?:{'|'.join(_RARE_COMPOUNDS)})(?=[\u4e00-\u9fff])")
_GLUED = re.compile(GLUED_WORD)
#: Characters that are no given name's after a surname (令狐的, 欧阳在, 慕容雪|称, 端木晴|骑).
_NO_GIVEN = frozenset(NAME_STOP) | _GLUED_FOURTH | _CUT_VERBS | frozenset("家之忘转")


@functools.cache
def _role_start() -> re.Pattern[str]:
    """A title, a role or a family word (欧阳|教授, 上官|夫妇, 令狐|全家): no given name."""
    extra = ("夫妇", "母子", "父子", "母女", "父女", "全家", "一家", "教授", "副", "董事长", "主治")
    words = sorted({*_TITLES, *ROLE_WORDS, *NOT_NAMES, *extra}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


def _boundary(text: str, i: int) -> bool:
    """Whether a name may end before ``i``: no Chinese there, a stop character, a glued
    word, a title or a role."""
    return (
        _HAN.match(text, i) is None
        or text[i] in _NO_GIVEN
        or _GLUED.match(text, i) is not None
        or _role_start().match(text, i) is not None
    )


def _compound_named(text: str, found: list[Span], words: Sequence[Word]) -> list[Span]:
    """A name after a compound surname of :data:`_RARE_COMPOUNDS`: the surname and one given
    character, and a second where the tagger reads the two as one word or name (上官宇航,
    司徒嘉慧) or a name's end follows it (欧阳振华|于; not 欧阳华|携妻子); none before a title
    or a role (欧阳女士, 欧阳教授, 上官夫妇). A name found there that starts inside it or is a
    piece of it gives way. None where a common word crosses the surname's first character
    (公司|徒步), the tagger reads another kind of word across it (三点钟|离开, 线上|官方) or a
    place or an organisation over it (诸葛镇, 闻人堂).
    """
    if not any(c in text for c in _COMPOUND_FIRST):
        return found
    matches = list(_RARE_COMPOUND.finditer(text))
    if not matches:
        return found
    cover: list[Word | None] = [None] * (len(text) + 1)
    for w in words:
        for i in range(w.start, w.end):
            cover[i] = w
    ends = {(w.end, w.start) for w in words}
    added: list[Span] = []
    for m in matches:
        start = m.start()
        if start and word_frequency(text[start - 1 : start + 1]) >= _COMMON_WORD:
            continue  # 公司|徒步
        over = cover[start]
        if over is not None and over.start < start and over.tag != "n":
            continue  # 三点钟|离开, 线上|官方 (but 其兄端木轩/n)
        if over is not None and over.tag in _OPEN_TAGS and over.end - start > 2:
            continue  # 诸葛镇, 欧阳修纪念馆, 闻人堂
        given = start + 2
        if _boundary(text, given):
            continue
        end = given + 1
        if not _boundary(text, end):
            joined = any((end + 1, s) in ends for s in range(start, given + 1))
            if joined or _boundary(text, end + 1):
                end += 1
        covering = [
            s for s in found if s.entity == PERSON and _overlaps((s.start, s.end), (start, end))
        ]
        if any(s.start < start for s in covering):
            continue  # a name read from before the surname keeps it
        if any(s.start == start and s.end >= end for s in covering):
            continue  # already read, as long or longer
        found = [s for s in found if s not in covering]
        added.append(Span(start, end, PERSON, TAGGER_PERSON))
    return found + added if added else found


def _unglued(text: str, span: Span) -> Span:
    """A three-character name with a single surname and a function word glued on, cut to two."""
    name = text[span.start : span.end]
    glued = name[-1] in _GLUED_LAST or (
        name[-1] == "现" and text[span.end : span.end + 1] in "为住任年居"
    )
    if (
        len(name) == 3
        and glued
        and not name.startswith(_COMPOUNDS)
        and _HAN.match(text, span.end) is not None
    ):  # 钟欣|现为 (but 张宝现称)
        return Span(span.start, span.end - 1, PERSON, span.score)
    return span


#: Tags of a word that is no part of a transliterated name beside a middle dot.
_NOT_NAME_PART = frozenset({"LOC", "ORG", "TIME", "w", "m", "q", "p", "c", "u", "xc", "r"})


def _dotted(text: str, words: Sequence[Word], found: list[Span]) -> list[Span]:
    """Join a name's parts across a middle dot (阿依古丽 · 买买提, 买买提 · 艾力).

    Where a name found (by the rules or the tagger) ends at a middle dot, or
    starts right after one, and the tagger's word on the other side is
    Chinese, of 2 to 6 characters and no place, time, number or function word,
    the two parts and the dot are one name; the parts found alone go.
    """
    names = [s for s in found if s.entity == PERSON]
    if not names or "·" not in text:
        return found
    by_start = {w.start: w for w in words}
    by_end = {w.end: w for w in words}
    joined: list[Span] = []
    for name in names:
        start, end = name.start, name.end
        if text[end : end + 1] == "·" and (after := by_start.get(end + 1)) is not None:
            if _name_part(text, after):
                end = after.end
        if start > 0 and text[start - 1] == "·" and (before := by_end.get(start - 1)) is not None:
            if _name_part(text, before):
                start = before.start
        if (start, end) != (name.start, name.end):
            joined.append(Span(start, end, PERSON, name.score))
    if not joined:
        return found
    kept = [
        s
        for s in found
        if s.entity != PERSON
        or not any(_overlaps((s.start, s.end), (j.start, j.end)) for j in joined)
    ]
    return kept + joined


#: Characters that end the part of a transliterated name after its middle dot.
_DOT_STOP = frozenset(NAME_STOP) | (_GLUED_FOURTH - {"都"}) | frozenset("同家")
#: Tags of a tagger word that the part after a middle dot does not run into (…托合塔尔|务农).
_DOT_STOP_TAGS = frozenset(
    {"v", "vn", "vd", "a", "ad", "d", "p", "c", "u", "f", "LOC", "ORG", "TIME", "m", "q"}
)


def _dot_tail(text: str, words: Sequence[Word], found: list[Span]) -> list[Span]:
    """A transliterated name read on to the end of its part after the middle dot.

    The tagger cuts such parts inside (阿不都热依木·买买提|明, 别克·哈力|木) or leaves
    them out (叶尔肯|·托合塔尔务农): from a name that holds or ends at a middle dot, the name
    runs on over Chinese characters, at most :data:`DOT_SIDE` after the dot, to a stop
    character (:data:`_DOT_STOP`) or a tagger word that is a verb, a function word, a
    place or a number.
    """
    if "·" not in text:
        return found
    by_start = {w.start: w for w in words}
    out = []
    for span in found:
        end = span.end
        if span.entity != PERSON:
            out.append(span)
            continue
        if text[end : end + 1] == "·" and _HAN.match(text, end + 1):
            dot = end
            end += 1
        elif (dot := text.rfind("·", span.start, end)) < 0:
            out.append(span)
            continue
        after = by_start.get(dot + 1)
        if after is not None and after.tag in _NOT_NAME_PART and after.tag != "w":
            out.append(span)  # 康妮·|史密斯 read as a place: no name's part
            continue
        while end < len(text) and end - dot <= DOT_SIDE and _HAN.match(text, end):
            if text[end] in _DOT_STOP or word_frequency(text[end : end + 2]) >= _COMMON_WORD:
                break  # …吐尔逊|家属, …伊明|去
            word = by_start.get(end)
            if (
                word is not None
                and word.tag in _DOT_STOP_TAGS
                and end - dot > 2
                and (word.end - word.start >= 2 or word.tag in ("p", "c", "u", "v"))
                and not (word.end - word.start == 1 and completes_syllable(text, end))
            ):
                break  # …托合塔尔|务农, …艾力|热情接待 (but 阿不|都热西提: 都 read alone,
                # …吐尔|地: 地 read as a particle closes 吐尔地)
            end += 1
        if end - dot < 3:  # no part of two characters after the dot
            end = span.end if span.end > dot else dot
        start = span.start
        # 村民|加娜尔·别克/PER read as 娜尔·别克 by syllables: the tagger's start
        for w in (by_start.get(j) for j in range(max(0, span.start - 3), span.start)):
            if w is not None and w.tag == "PER" and w.start < dot < w.end:
                if text[w.start] != "方" and text[w.start] not in _DOT_STOP:  # 承包|方叶尔兰·…
                    start = w.start
        out.append(Span(start, end, PERSON, span.score) if end > dot + 1 else span)
    return _dot_joined(text, out)


def _dot_joined(text: str, found: list[Span]) -> list[Span]:
    """Two names that touch, one of them transliterated with a middle dot, are one
    (巴合提|别克·哈力木, 米日|古丽·艾合买提: the tagger cut the first part)."""
    return _touching_joined(
        found,
        PERSON,
        lambda last, span: (
            last.end == span.start
            and "·" in text[last.start : span.end]
            and span.end - last.start <= 16
        ),
    )


def _name_part(text: str, word: Word) -> bool:
    """Whether a word beside a middle dot may be the other part of a transliterated name.

    A Chinese piece tagged ``w`` was cut from a symbol by :func:`_cleaned` (LAC reads
    ·阿不来 as one symbol word): its tag says nothing of it.
    """
    piece = text[word.start : word.end]
    if not (2 <= len(piece) <= 6 and _HAN_ONLY.fullmatch(piece)):
        return False
    return word.tag == "w" or word.tag not in _NOT_NAME_PART


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def fuse(
    text: str,
    spans: Sequence[Span],
    words: Sequence[Word],
    wanted: frozenset[str],
    learned: Sequence[Learned] | None = None,
) -> list[Span]:
    """The findings of one free text after fusing the rules' with the tagger's words.

    Args:
        text: The text.
        spans: The rules' findings (both paths give the same).
        words: The tagger's reading of ``text``.
        wanted: The entities asked for (fusion adds only these).
        learned: The span head's names and addresses (:meth:`Tagger.read`), or
            ``None`` where no head ran (an empty list: the head read the text and
            found nothing, which counts: see :func:`_heard`). Its names where fusion
            found nothing (and LAC reads no place, organisation or time there, nor
            one word of no name exactly, nor an adverb, a preposition … inside, nor a
            shop's word or a place's noun after: :func:`_unnamed`, :func:`_shop_after`,
            :func:`_place_named`; no nickname, 老彭) go through fusion again as unsure
            findings of the rules. A name the head is sure of (:data:`HEAD_SURE`)
            passes :func:`_unnamed`, stays where fusion's checks dropped it, and where
            it lies over one fused name with other edges that is no form's field, its
            edges are taken (骆宾|辩称, not 骆宾辩). A rule's name neither LAC nor the
            head reads is dropped (:func:`_heard`). Its addresses as
            :func:`_learned_addresses` says.

    Returns:
        The findings, sorted, names read the same way throughout (:func:`_consistent`).
    """
    first = _fused(text, spans, words, wanted)
    if learned is None:
        first = _resident_flats(text, _field_names(text, first, wanted), wanted)
        return _consistent(text, sorted(unnamed_kinds(text, placed(text, first))), words)
    taken = _covered(len(text), ((s.start, s.end) for s in first))
    cleaned = _cleaned(text, words)
    ends = _ends(cleaned)
    under = {h: _over(cleaned, ends, h.start, h.end) for h in learned if h.entity == PERSON}
    # The head's names it is sure of, and given names LAC reads as a verb or a season.
    held = {h for h, covered in under.items() if _sure(text, h) or _word_named(text, covered, h)}
    names = [
        h for h in learned
        if h.entity == PERSON and PERSON in wanted and h.end - h.start >= 2  # not 元 …
        and (h in held or not _unnamed(text, under[h], h))
        and not _shop_after(text, cleaned, ends, h.end)
        and not _place_named(text, cleaned, ends, h)
        and not (h.end - h.start == 2 and text[h.start] in _NOT_FIRST)  # 老彭: a nickname
    ]  # fmt: skip
    extra = [
        Span(h.start, h.end, PERSON, TAGGER_PERSON)
        for h in names
        if 1 not in taken[h.start : h.end]
    ]
    # The head's names where nothing was found go through fusion as the rules' unsure
    # findings do (a title, an organisation's name, LAC's words across its edges …).
    found = _fused(text, [*spans, *extra], words, wanted) if extra else first
    sure = [h for h in names if h in held]
    found = _learned_edges(text, found, sure)
    if sure:  # a name the head is sure of stays where fusion's checks dropped it
        taken = _covered(len(text), ((s.start, s.end) for s in found))
        kept = [Span(a, b, PERSON, TAGGER_PERSON) for a, b, _, _ in sure if 1 not in taken[a:b]]
        found = sorted({*found, *kept}) if kept else found
    found = _heard(text, found, learned, cleaned)
    fixed = {(h.start, h.end) for h in sure}
    found = _learned_addresses(text, found, learned, wanted, cleaned)
    found = _field_names(text, found, wanted)
    found = _resident_flats(text, found, wanted)
    return _consistent(text, sorted(unnamed_kinds(text, placed(text, found))), words, fixed)


#: A form's field for a person (姓名：, 处理人：, 仲裁员：, 坐席：) at the start of the text
#: or after a separator, its value of two or three Chinese characters, then the field's end:
#: the text's end, or a separator and another field's label, a phone's word or the end.
_PERSON_FIELD = re.compile(
    r"(?:^|(?<=[\s；;，,。|]))(姓名|坐席|房东|租客|户主|[\u4e00-\u9fff]{1,4}[人员])[：:]\s*"
    r"([\u4e00-\u9fff]{2,3})"
    r"(?=\s*$|([；;，,。|\s])\s*(?:[\u4e00-\u9fff]{2,6}[：:]|电话|手机|$))"
)
#: Labels that are speakers in a chat too (房东：马上来 租客：辛苦了): a field only before a
#: form's separator (房东：归建新；租客：…).
_SPEAKER_LABELS = frozenset(("房东", "租客", "户主"))
#: How a chat's reply ends (辛苦了, 周末吧), and values that stand for no one (代签, 代收点).
_REPLY_END = frozenset("了吧呢啊吗呀的哈嘛哦")
_NO_ONES_VALUE = ("代签", "代收", "代办", "本人", "无")


def _field_names(text: str, found: list[Span], wanted: frozenset[str]) -> list[Span]:
    """The findings with a form field's value that is a name though it reads as a word
    (处理人：简单, 坐席：施展。, 仲裁员：万千；, 姓名：房东亮  房号：…): a surname first, no role
    word, no title after the surname, no chat's reply (房东：马上来 租客：…,
    :data:`_SPEAKER_LABELS`, :data:`_REPLY_END`), nothing found over it. A form's field
    (:data:`FIELD_SURE`), kept as found."""
    if PERSON not in wanted or ("：" not in text and ":" not in text):
        return found
    taken = _covered(len(text), ((s.start, s.end) for s in found))
    added = []
    for m in _PERSON_FIELD.finditer(text):
        label, value, (start, end) = m.group(1), m.group(2), m.span(2)
        if (
            value[0] not in _STARTS
            or value[-1] in _REPLY_END
            or value[-1] in ROLE_SUFFIXES  # 管理员
            or value.startswith(_NO_ONES_VALUE)
            or value in NOT_NAMES
            or value in _ROLE_NOUNS
            or value in _ROLE_WORD_SET
            or (label in _SPEAKER_LABELS and m.group(3) not in ("；", ";", "，", ","))
            or _title_end().search(value, 1) is not None
            or 1 in taken[start:end]
        ):
            continue
        added.append(Span(start, end, PERSON, FIELD_SURE))
    return sorted([*found, *added]) if added else found


def _heard(
    text: str, found: list[Span], learned: Sequence[Learned], words: Sequence[Word]
) -> list[Span]:
    """The findings without the names neither LAC (no ``PER`` word over it) nor the span
    head (no name of its over it) reads as one (车险, 宫口开, 当事人|陈述, 都|光盘: a rule's
    surname and context word, read where the two models that read the whole sentence see
    none), but a form's field's (:data:`FIELD_SURE`)."""
    if not any(s.entity == PERSON and s.score < FIELD_SURE for s in found):
        return found
    people = [(w.start, w.end) for w in words if w.tag == "PER"]
    heads = [(h.start, h.end) for h in learned if h.entity == PERSON]
    read = _covered(len(text), [*heads, *people])
    return [
        s for s in found
        if s.entity != PERSON or s.score >= FIELD_SURE or 1 in read[s.start : s.end]
    ]  # fmt: skip


def _consistent(
    text: str,
    found: list[Span],
    words: Sequence[Word],
    fixed: Collection[tuple[int, int]] = (),
) -> list[Span]:
    """The findings with a name read once one character off from a name read elsewhere in
    the text set as that one (我们|家子涵 where 子涵 is found alone, 桂兰养|了 where 桂兰 is,
    伍志|成 where 伍志成 is): a text names a person the same way each time. A name that is
    itself found twice stays, none of ``fixed`` (the names the head is sure of) is cut
    (古伟明 where 古伟 is found), no name is moved over a finding of another entity, and
    for the other cuts, :func:`_cuts`."""
    names = [s for s in found if s.entity == PERSON]
    if len(names) < 2:
        return found
    at: dict[str, list[Span]] = {}
    for s in names:
        at.setdefault(text[s.start : s.end], []).append(s)
    others = _covered(len(text), ((s.start, s.end) for s in found if s.entity != PERSON))
    bounds = {w.start for w in words} | {w.end for w in words}
    out = []
    for s in found:
        if s.entity != PERSON or len(at[text[s.start : s.end]]) > 1:
            out.append(s)
            continue
        moves = [(s.start - 1, s.end), (s.start, s.end + 1)]  # 伍志|成: longer
        if (s.start, s.end) not in fixed:
            moves += _cuts(text, s, at, bounds)
        fits = [
            (a, b) for a, b in moves
            if 0 <= a and b <= len(text) and b - a >= 2 and text[a:b] in at
            and 1 not in others[a:b]
        ]  # fmt: skip
        out.append(Span(*fits[0], PERSON, s.score) if len(fits) == 1 else s)
    return sorted(set(out))


def _cuts(
    text: str, name: Span, at: dict[str, list[Span]], bounds: Collection[int]
) -> list[tuple[int, int]]:
    """A name one character shorter at either end that :func:`_consistent` may take: only
    where LAC's words part there (``bounds``: 桂兰|养了, not 张伟华 where 张伟 is found too),
    no surname cut off a name's front (王建国 stays where 建国 is found alone), and a
    character cut off only where the shorter name is found without it beside it (危学军
    stays where 危学 is found once, before 军 too: the longer reading is the name both
    times)."""
    start, end = name.start, name.end
    out = []
    shorter = at.get(text[start : end - 1], ())
    if end - 1 in bounds and any(text[t.end : t.end + 1] != text[end - 1] for t in shorter):
        out.append((start, end - 1))  # 桂兰养|了 where 桂兰 is found without 养
    lead = text[start]
    if lead not in _SURNAMES and text[start : start + 2] not in _COMPOUND_SET:
        shorter = at.get(text[start + 1 : end], ())
        if start + 1 in bounds and any(text[t.start - 1 : t.start] != lead for t in shorter):
            out.append((start + 1, end))  # 我们家|子涵 where 子涵 is found alone
    return out


#: Words after a place's name that no person's name is followed by (吉布提|港口).
_PLACE_NOUNS = frozenset(
    ("港口", "港", "机场", "车站", "火车站", "境内", "地区", "一带", "景区", "口岸", "海关")
)


def _place_named(text: str, words: Sequence[Word], ends: list[int] | None, name: Learned) -> bool:
    """Whether LAC reads a name of the head as one place's word with a place's noun after
    it (吉布提|港口): a place, however sure the head is."""
    over = _over(words, ends, name.start, name.end)
    if (
        len(over) != 1
        or over[0].tag != "LOC"
        or (over[0].start, over[0].end) != (name.start, name.end)
    ):
        return False
    after = _over(words, ends, name.end, name.end + 1)
    return bool(after) and text[after[0].start : after[0].end] in _PLACE_NOUNS


#: The head's probability of a name (:func:`anonymize.detect._head.confidence`) at or
#: above which the head is believed over fusion's doubts (:func:`_believable` names
#: only): its edges replace those of an unsure fused name under it, LAC's reading of its
#: words (:func:`_unnamed`) does not drop it, nor do fusion's checks. Chosen on the sets
#: Y, Z, AA and AB read with a head trained on A–X (none of them): of the 71 fused names
#: a head's name overlapped with other edges, the head had the marked edges on 27, fusion
#: on 44, and at 0.9 the head's edges would be taken on 25, 18 of them right; of the
#: head's names the other checks dropped, 18 of the 26 at 0.9 and above were marked
#: names. On the four sets, names went from 0.938 / 0.946, 0.947 / 0.941, 0.945 / 0.949,
#: 0.927 / 0.949 to 0.955 / 0.944, 0.956 / 0.945, 0.956 / 0.947, 0.940 / 0.951 (recall /
#: precision). A session later (head trained on A–AC, renamed copies), the edges of a
#: rule's name of a role's strength (0.85, below a form's field's) were taken too: on
#: A–AC and AD–AG, 22 names set right, 2 set wrong; and a head's name below it that LAC
#: reads as one word of no name, exactly, is dropped (:func:`_unnamed`).
HEAD_SURE = 0.9


def _sure(text: str, name: Learned) -> bool:
    """Whether the head is sure of a name (:data:`HEAD_SURE`) and it is believable."""
    return name.p >= HEAD_SURE and _believable(text[name.start : name.end])


def _believable(name: str) -> bool:
    """Whether a name the head is sure of may overrule fusion: not a surname alone
    (欧阳|女士), nor a name with a household's, a home's or a title's word glued on
    (吉克阿依户, 谷强家, 丽华姐: the head's most common slips on the marked sets), nor
    one that begins or ends with no letter (an emoji: the seeded corpus's 📌马丹丹)."""
    if not (name[0].isalpha() and name[-1].isalpha()):
        return False  # 📌马丹丹: a sign the head never saw in training, read into the name
    title = _title_end().search(name, 1)
    return not (name in _COMPOUNDS or name[-1] in "户家" or title is not None)


@functools.cache
def _title_end() -> re.Pattern[str]:
    """A title's word ending a name (丽华|姐, 熊|先生)."""
    return re.compile(f"(?:{'|'.join(sorted(_TITLES, key=len, reverse=True))})$")


def _learned_edges(text: str, found: list[Span], names: Sequence[Learned]) -> list[Span]:
    """The findings with a name's edges as the head reads them (``names``: those it is
    sure of), where the head's name lies over one finding only, a name with other edges
    that is no form's field (below :data:`FIELD_SURE`: 骆宾|辩称 read 骆宾辩, 危学军 read
    危学, 经纪人|蒋磊|带 read by a role rule as 蒋磊带); not cut out of a minority name
    fusion read whole (阿苏拉则, not 阿苏拉)."""
    if not names or not found:
        return found
    starts = [s.start for s in found]
    out = list(found)
    for a, b, _, _ in names:
        over = []
        for k in range(bisect.bisect_left(starts, b) - 1, -1, -1):
            if found[k].start < a - _REACH:
                break  # a finding over the name starts within reach of it
            if found[k].end > a:
                over.append(k)
        if len(over) != 1:
            continue
        old = found[over[0]]
        if old.entity != PERSON or old.score >= FIELD_SURE or (old.start, old.end) == (a, b):
            continue
        if old.start <= a and b <= old.end and is_minority_name(text[old.start : old.end]):
            continue
        out[over[0]] = Span(a, b, PERSON, old.score)
    return sorted(set(out)) if out != found else found


#: No finding is longer than this many characters (an address is at most about 60).
_REACH = 200


def _covered(length: int, spans: Iterable[tuple[int, int]]) -> bytearray:
    """Which characters of a text of ``length`` the spans cover (1) or not (0): an overlap
    test is then one slice, not a pass over every span (a long text holds thousands)."""
    out = bytearray(length)
    for a, b in spans:
        out[a:b] = b"\x01" * (b - a)
    return out


def _ends(words: Sequence[Word]) -> list[int] | None:
    """The words' ends for :func:`_over`'s bisection, when they are sorted and apart."""
    last = [w.end for w in words]
    return last if all(map(operator.le, last, [w.start for w in words[1:]])) else None


#: Digits after a number's 号 that count something (12号|200多户, 88号|110千伏), not a room.
_COUNT_AFTER_NUMBER = re.compile(
    r"号([0-9]+)(?=[多余千万百户人名个元米平岁年天辆间条台只家吨斤公])"
)


def _count_cut(text: str, start: int, end: int) -> int:
    """The end of an address before a count glued after its 号 (文三路12号|200多户居民)."""
    m = _COUNT_AFTER_NUMBER.search(text, start, min(end + 1, len(text)))
    return m.start(1) if m is not None and m.start(1) < end else end


@functools.cache
def _shop_words() -> re.Pattern[str]:
    words = "|".join(sorted(_SHOP_WORDS, key=len, reverse=True))
    # Not a fee (柏小芹|医药费, 服务费): no shop's name.
    return re.compile(
        rf"[^\W\d_在和与的是了说给向把被对从跟同及或发打找去来到]{{0,2}}(?:{words})(?!费)"
    )


def _shop_after(text: str, words: Sequence[Word], ends: list[int] | None, end: int) -> bool:
    """Whether a shop's or company's word follows a name, at most two characters on
    (泰麒麟|传媒, 信诚|致远专营店), none of them a particle, a verb LAC reads or a word
    ending there (王芳的科技公司, 春燕发信息给我)."""
    m = _shop_words().match(text, end)
    if m is None:
        return False
    between = [w for w in _over(words, ends, end, m.end()) if w.start < end + 2]
    return not any(w.tag in ("v", "vd", "vn") for w in between)


#: A village's (or its group's) name, then a few characters of no address (…前南峪村|林业,
#: …崔岭西村|蔬菜, …那坡屯|等): the head read a noun after the village into it.
_VILLAGE_TAIL = re.compile(r"(?:村|组|社|屯|嘎查)([\u4e00-\u9fff]{1,3})$")
#: How a village's part, a building or an administrative name ends: a tail ending so stays.
_PART_END = re.compile(
    r"(?:村|组|社|屯|队|号|室|栋|幢|座|单元|楼|层|户|弄|巷|路|街|道|苑|园|区|镇|乡|院|里|庄|湾|寨"
    r"|坝|岗|坪|口|县|市|旗|州|盟|厦|城|场|馆)$"
)


#: A village's or a neighbourhood's committee after its name (好谷村|村委会, 五龙山村|调委会).
_COMMITTEE = re.compile(r"(?<=[村组社屯区])(?:村委|村民委员|调委|居委|两委)")


def _village_tail_cut(text: str, start: int, end: int, word_at: dict[int, Word]) -> int:
    """The end of an address without a word after its village (:data:`_VILLAGE_TAIL`):
    only where LAC reads a word of no place opening right after the village (not
    屯|昌县, 社|旗县, 中关村|大厦: one place's word, or a building)."""
    m = _VILLAGE_TAIL.search(text, start, end)
    if m is None or m.start() <= start + 1:
        return end
    word = word_at.get(m.start(1))
    if word is None or word.tag in ("LOC", "ORG", "nz", "PER") or _PART_END.search(m.group(1)):
        return end
    return m.start(1)


#: LAC's tags of words no name is made of (adverbs, prepositions, conjunctions, particles).
_NOT_IN_NAME = frozenset({"d", "p", "c", "u", "xc", "m", "q", "w"})


def _unnamed(text: str, covered: Sequence[Word], name: Learned) -> bool:
    """Whether LAC reads the words ``covered`` (over a name of the head) as no name: one
    place's, organisation's or time's word (吉布提), one word of no name that is exactly
    the head's ``name`` (椰子糖, 错峰, 雨衣: dishes and things the head half believes, below
    :data:`HEAD_SURE`; not a minority name's syllables), or words of which one is an
    adverb, a preposition … (汤|全)."""
    if len(covered) == 1 and covered[0].tag in ("LOC", "ORG", "TIME"):
        return True
    if len(covered) == 1 and covered[0].tag != "PER":
        exact = (covered[0].start, covered[0].end) == (name.start, name.end)
        return exact and not is_minority_name(text[name.start : name.end])  # 格桑: a name
    return len(covered) > 1 and any(w.tag in _NOT_IN_NAME for w in covered)


#: The head's probability from which a verb or a season's word that LAC reads as exactly
#: the head's name is one (:func:`_word_named`).
WORD_NAME_SURE = 0.8
#: What opens a time word of a day, a count or a turn (明天, 五天, 上午, 当晚): no name.
_DAY_WORD = frozenset("今明昨前后每当本上下次这那早晚午半整几一二两三四五六七八九十0123456789")


def _word_named(text: str, covered: Sequence[Word], name: Learned) -> bool:
    """Whether a name of the head is a given name LAC reads as one word of its own: a verb
    (纳丽|来电, 降央, 许诺) or a time word that names no day or count (谷雨|咨询, 夏天：到了,
    国庆), where the head is nearly sure (:data:`WORD_NAME_SURE`). :func:`fuse` keeps such
    names as it keeps those the head is sure of. On the marked sets, the head's names fusion
    dropped that LAC reads so were names three times in four (20 of 26), where its nouns,
    adjectives and places were none two times in three."""
    if name.p < WORD_NAME_SURE or len(covered) != 1:
        return False
    word = covered[0]
    if (word.start, word.end) != (name.start, name.end):
        return False
    return word.tag == "v" or (word.tag == "TIME" and text[name.start] not in _DAY_WORD)


#: A flat with no place's name: a building, its unit and the room (7号楼201, 5栋1302,
#: 8栋一单元101): in a neighbours' chat, one household's address. A building or its
#: stairwell alone (3号楼2单元漏水) is shared by many and no address. On the 35 marked sets
#: of 2026-12-05 to 12-07, the head read 5 such flats, all marked, and no other.
_FLAT = re.compile(
    r"[0-9]+(?:栋|幢|座|号楼)(?:(?:[0-9]+|[一二三四五六七八九十]+)单元)?[0-9]{3,4}室?"
)
#: A flat of :data:`_FLAT` said as its residents' (9栋1702|业主, 12栋605|租户, 是|19栋2202).
_RESIDENT_FLAT = re.compile(
    rf"(?<![0-9A-Za-z号栋幢座区期-])(?:{_FLAT.pattern})"
    r"(?=业主|租户|住户|户主|房东|居民)"
)


def _resident_flats(text: str, found: list[Span], wanted: frozenset[str]) -> list[Span]:
    """The findings with flats that name their residents (a building and a room, then 业主,
    租户, 住户 …) where nothing was found: the head reads most such flats, not all (on the
    marked sets, 10 of 11 of them marked, 3 of them missed before)."""
    if ADDRESS not in wanted:
        return found
    flats = list(_RESIDENT_FLAT.finditer(text))
    if not flats:
        return found
    taken = _covered(len(text), ((s.start, s.end) for s in found))
    added = [
        Span(m.start(), m.end(), ADDRESS, TAGGER_ADDRESS)
        for m in flats
        if 1 not in taken[m.start() : m.end()]
    ]
    return sorted([*found, *added]) if added else found


#: Brackets that close and open.
_CLOSING = re.compile(r"[）)】」』]")
_OPENING = re.compile(r"[（(【「『]")
#: What opens a home's address after a name (和丽华|家住|古城区…): not the address's.
_HOME_OPENER = re.compile(r"(?:家住|现住|住在|居住在|住址|住)")
#: The same inside what the head read as an address (no 住 alone: 住宅小区).
_INNER_OPENER = re.compile(r"(?:家住|现住|住在|居住在|住址[:：]?)")


def _learned_addresses(
    text: str,
    found: list[Span],
    learned: Sequence[Learned],
    wanted: frozenset[str],
    words: Sequence[Word],
) -> list[Span]:
    """The fused findings with the span head's addresses (:mod:`anonymize.detect._head`).

    On marked note sets it was not trained on (benchmarks/README.md), the head reads
    addresses better than the rules and LAC's words do: its addresses are taken, their
    edges set as fusion sets its own (:func:`_verbs_cut`, :func:`_edged`; no bare road,
    no count glued after a 号, no noun after a village, a room's 室 after its number),
    touching ones joined, and a fused address is kept only where it overlaps none of
    them. An address the head begins on a name starts after the name and a home's opener
    (和丽华|家住|…); an unsure name inside one is dropped (…宏建|南河春晓|4-1-1702). None
    is taken over a finding of another entity (a phone, an ID …), nor one that opens
    with a digit (3号楼2单元: a building with no place's name).

    Args:
        words: The tagger's words, cleaned (:func:`_cleaned`).
    """
    if ADDRESS not in wanted:
        return found
    others = _covered(len(text), ((s.start, s.end) for s in found if s.entity not in FUSED))
    names = sorted((s.start, s.end) for s in found if s.entity == PERSON)
    heads = sorted(
        (h.start, h.end)
        for h in learned
        if h.entity == ADDRESS and 1 not in others[h.start : h.end]
    )
    if not heads:
        return found
    word_at = {w.start: w for w in words}
    word_before = {w.end: w for w in words}
    ends = _ends(words)
    addresses: list[tuple[int, int]] = []
    for a, b in heads:
        i = bisect.bisect_right(names, (a, len(text))) - 1
        if i >= 0 and names[i][0] <= a < names[i][1]:  # 和丽华|家住|古城区…
            a = names[i][1]
            opener = _HOME_OPENER.match(text, a, b)
            a = opener.end() if opener is not None else a
        inner = _INNER_OPENER.search(text, a, min(b, a + 8))
        if inner is not None:
            a = inner.end()  # …家住|古城区…: a home's opener inside, the name before it
        if b - a < 3 or (text[a : a + 1].isdigit() and _FLAT.fullmatch(text, a, b) is None):
            continue  # 3号楼2单元, 8栋: a building with no place's name is none to find
        span = _verbs_cut(text, _over(words, ends, a, b), Span(a, b, ADDRESS, TAGGER_ADDRESS))
        edged = _edged(text, word_at, word_before, span)
        one = _ONE_ON_ROAD.search(text, edged.start, edged.end + 1)
        if one is not None and one.start(1) < edged.end:
            edged = Span(edged.start, one.start(1), ADDRESS, TAGGER_ADDRESS)
        if edged.start >= edged.end or _bare_road(text, edged):
            continue
        end = _count_cut(text, edged.start, edged.end)
        end = _village_tail_cut(text, edged.start, end, word_at)
        committee = _COMMITTEE.search(text, edged.start, end + 2)
        if committee is not None and edged.start < committee.start() < end:
            end = committee.start()  # …杨家湾村|村委会: the village's committee, no place
        if (
            text[end - 1 : end].isdigit()
            and text[end : end + 1] in ("室", "号", "户")
            and _ROOM_WORD_AFTER.match(text, end) is None
        ):
            end += 1  # …20幢2111|室附近: the room's unit the head left after its number
        closing = _CLOSING.search(text, edged.start, end)
        if closing is not None and _OPENING.search(text, edged.start, closing.start()) is None:
            end = closing.start()  # …泉城路180号|）1号窗口: a bracket the address did not open
        if end - edged.start < 3:
            continue
        if addresses and edged.start <= addresses[-1][1]:  # touching (a long text's cut)
            addresses[-1] = (addresses[-1][0], max(end, addresses[-1][1]))
        else:
            addresses.append((edged.start, end))
    fused = [s for s in found if s.entity == ADDRESS]
    merged: list[tuple[int, int]] = []  # a road taken in may reach the address before it
    for a, b in sorted(_road_before(text, a, b, fused) for a, b in addresses):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    addresses = merged
    read = _covered(len(text), addresses)
    out = [
        s for s in found
        if not (s.entity == ADDRESS and 1 in read[s.start : s.end])
        and not (s.entity == PERSON and s.score < SURE and all(read[s.start : s.end]))
    ]  # fmt: skip
    out += [Span(a, b, ADDRESS, TAGGER_ADDRESS) for a, b in addresses]
    return sorted(set(out))


def _road_before(text: str, start: int, end: int, fused: Sequence[Span]) -> tuple[int, int]:
    """A head's address that begins at a house number, with the road before it where a
    fused address over it begins with that road (先烈东路|12号之三): the part the head left
    out. (A fused address's other starts are often a word before the place, which LAC
    reads as one: 我行|厦门市…, 住|都阳镇…, 致天鹅湖花园17幢.)"""
    if not text[start : start + 1].isdigit() or text[start - 1 : start] not in _ROAD_LAST:
        return (start, end)
    for s in fused:
        if (
            s.start < start < s.end
            and s.end >= end
            and _ROAD_NAME.fullmatch(text, s.start, start)
            and not text.startswith(_NOT_ROAD_OPENING, s.start)
        ):
            return (s.start, end)
    return (start, end)


#: The last character of a road's name, and a road's name (先烈东路, 中山北路二段).
_ROAD_LAST = frozenset("路街巷弄道")
_ROAD_NAME = re.compile(r"[\u4e00-\u9fff]{1,8}(?:路|街|巷|弄|道)")
#: Words a fused address may open with that are no road's (住|中山路, 在|…, 我行|…).
_NOT_ROAD_OPENING = (*_NOT_OPENING, "住", "我", "于", "到", "至", "从", "往", "去", "向", "家")


def _fused(
    text: str, spans: Sequence[Span], words: Sequence[Word], wanted: frozenset[str]
) -> list[Span]:
    """:func:`fuse` without the span head."""
    spans = sorted(spans)  # the same order whatever order a path found them in
    out = [s for s in spans if s.entity not in FUSED]
    words = _cleaned(text, words)
    orgs = [(w.start, w.end) for w in words if w.tag == "ORG"]
    orgs_and_places = orgs + [(w.start, w.end) for w in words if w.tag == "LOC"]
    # Words apart (most texts): _over finds a span's words by bisection; else it looks at each.
    ends = _ends(words)
    if PERSON in wanted:
        found = _names(text, words)
        for span in (s for s in spans if s.entity == PERSON):
            edges = (span.start, span.end)
            inside_org = any(
                o[0] <= span.start
                and span.end <= o[1]
                and (o[1] - o[0]) - (span.end - span.start) >= 2
                for o in orgs_and_places
            )  # 凌云科技有限公司, 回民公墓: a name inside an organisation's or a place's name
            covered = _over(words, ends, *edges)
            if inside_org or _title(text[span.start : span.end]) or _torn(text, covered, span):
                continue
            if _role_after_surname(text, span) or _locative(text, covered, span):
                continue
            if _measure(text, span) or _pronoun_word(text, covered, span):
                continue
            if _no_name(text, covered, span):
                continue
            clash = [f for f in found if _overlaps(f, edges)]
            crossed = _crossed(covered, *edges)
            if span.score < SURE and not clash:
                timed = any(w.tag == "TIME" for w in covered)
                verbs = bool(covered) and all(w.tag in _VERBS for w in covered)
                verbs = verbs or _pieces(text, covered, span)
                if crossed or timed or verbs:
                    continue  # the tagger reads other words there (于|下午, 师傅|现场, 信访)
            # The tagger's name wins a clash unless the rule was sure, or the tagger's is a
            # piece of the rule's and a tagger word crosses the rule's edge (沈桂|珍持: LAC
            # cut the name where a verb glued on; but 吴颖|通 is a name and a verb).
            inside = all(span.start <= f[0] and f[1] <= span.end for f in clash)
            if clash and span.score < SURE and not (inside and crossed):
                continue
            if any(_longer_compound(text, span, f) or _longer_given(text, span, f) for f in clash):
                continue  # 欧阳建|平等, 祁明|月 read by the rules, 欧阳建平, 祁明月 by the tagger
            span = _verb_cut(text, covered, span)
            found = [f for f in found if f not in clash]
            out.append(span)
        out.extend(Span(s, e, PERSON, TAGGER_PERSON) for s, e in found)
        out = _dotted(text, words, out)
        out = _minority(text, words, out)
        out = _dot_tail(text, words, out)
        out = [_unglued(text, s) if s.entity == PERSON else s for s in out]
        out = [_given_word(text, s) if s.entity == PERSON else s for s in out]
        out = _slotted(text, out, words)
        out = _compound_named(text, out, words)
        out = _surname_led(text, out, words)
        out = _speakers(text, out)
        out = _given_named(text, out, words)
        tagged = [(w.start, w.end) for w in words if w.tag == "PER"]
        out = [s for s in out if s.entity != PERSON or not _role(text, s, tagged)]
        out.extend(_listed(text, words, [s for s in out if s.entity == PERSON]))
    if ADDRESS in wanted:
        runs = _addresses(text, words)
        places = [(w.start, w.end) for w in words if w.tag == "LOC"]
        for span in (s for s in spans if s.entity == ADDRESS):
            clash = [r for r in runs if _overlaps(r, (span.start, span.end))]
            if not clash:
                out.append(_verbs_cut(text, _over(words, ends, span.start, span.end), span))
                continue
            runs = [r for r in runs if r not in clash]
            start, end = clash[0][0], clash[-1][1]
            if span.start < start and any(span.start <= p[0] < start for p in places):
                start = span.start  # the rule's run holds a place before the tagger's
            elif (
                span.start < start
                and span.score >= SURE
                and _ADMIN_GAP.fullmatch(text, span.start, start)
            ):
                start = span.start  # 住址高新区|科技二路65号: the district read as a noun
            past = [w for w in words if w.start < span.end and w.end > end]
            if span.end > end and all(_holds(text, w) for w in past):
                end = _stairs(text, span.end)  # the rule's run holds more (an estate, a room)
            elif (
                span.end > end
                and span.score >= SURE
                and _NUMBERED_END.search(text, span.start, span.end)
            ):
                end = span.end  # 住址：…东大街|端履门32号: a form field's address to its number
            elif span.end > end:
                # …白石龙|一区|42栋|楼顶: as far as the words still belong, to a number
                reach = end
                for w in past:
                    if w.start > reach or w.end > span.end or not _holds(text, w):
                        break
                    reach = w.end
                numbered = _NUMBERED_END.search(text, span.start, reach) is not None
                if numbered and reach > _annexed(text, end):
                    end = reach
            out.append(Span(start, end, ADDRESS, max(span.score, TAGGER_ADDRESS)))
        out.extend(Span(s, e, ADDRESS, TAGGER_ADDRESS) for s, e in runs)
        word_at = {w.start: w for w in words}
        word_before = {w.end: w for w in words}
        out = [_edged(text, word_at, word_before, s) if s.entity == ADDRESS else s for s in out]
        out = _adjacent_joined(out)
        out = [s for s in out if s.entity != ADDRESS or not _bare_road(text, s)]

    return sorted(set(out))


def doubts(text: str, spans: Sequence[Span]) -> list[tuple[int, int]]:
    """The stretches of ``text`` the tagger reads: where the rules leave doubt.

    Around every place a name or an address could be: a surname that opens
    no common word and closes none (高中, 对方 and 时间 are words; 王瑞刚 is
    not), a character that ends an address part (区, 路, 号, 栋 …), and every
    name or address the rules found (the tagger may drop or trim it). Each
    point is widened by :data:`BEFORE` and :data:`AFTER` characters, the
    windows are merged and cut at sentence ends. About two thirds of a case note's
    characters are read (``benchmarks/pii_scan.py``: 66 % of its notes). The
    windows give LAC the context it needs on either side of a name: measured on
    2026-12-05, windows one character narrower (:data:`AFTER` 5 or
    :data:`BEFORE` 2) or none after a surname followed by no Chinese character
    read 2–3 points fewer characters and lost names on the blind sets (黄金凤于2018…
    read without the 于 window's context).

    >>> doubts("今天天气很好，我们出去走走。", [])
    []
    >>> doubts("刚跟吴颖通了电话。", [])
    [(0, 8)]
    """
    size = len(text)
    windows = [
        (max(0, i - PLACE_BEFORE), min(size, i + AFTER))
        if c in _ADDRESS_CHARS
        else (max(0, i - BEFORE), min(size, i + AFTER))
        for i, c in enumerate(text)
        if c in _ADDRESS_CHARS
        or (c in _STARTS and i + 1 < size and not _in_word(text, i))
        or (c in _COMPOUND_FIRST and text[i : i + 2] in _COMPOUND_SET)  # 欧阳, 司徒: words too
    ]
    windows += [
        (max(0, s.start - BEFORE), min(len(text), s.end + AFTER))
        for s in spans
        if s.entity in FUSED
    ]
    # A surname right after a role or a kin word opens a name even where it opens a word
    # (孩子妈妈甘露电话, 客户马力于: names that are words too).
    lead_at_end = _lead_at_end()
    windows += [
        (max(0, i - BEFORE), min(size, i + AFTER))
        for i in (m.start() for m in _led().finditer(text))
        if lead_at_end.search(text, max(0, i - _LEAD_REACH), i) is not None
    ]
    # A transliterated name (阿依古丽·托合提) is read whole, with context on both sides.
    windows += [
        (max(0, m.start() - DOT_SIDE - BEFORE), min(size, m.end() + DOT_SIDE + AFTER))
        for m in _DOT.finditer(text)
    ]
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + _GAP:  # 苗族|侗|族自治州: no word cut in two
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    out: list[tuple[int, int]] = []
    for start, end in merged:  # a window never spans a sentence end
        # ... nor cuts a number or a code (1102, 9-2-501) or the unit after it (室).
        while start > 0 and _CODE_CHAR.match(text, start - 1):
            start -= 1
        while end < size and _CODE_CHAR.match(text, end):
            end += 1
        if end < size and text[end] in _UNIT_CHARS and _CODE_CHAR.match(text, end - 1):
            end += 1
        for cut in (c for c in ends if start < c < end):
            out.append((start, cut))
            start = cut
        out.append((start, end))
    return [(a, b) for a, b in out if _HAN.search(text, a, b)]


#: Windows this close are read as one: a gap of a character or two would cut a word.
_GAP = 2


@functools.cache
def _led() -> re.Pattern[str]:
    """A surname after a character that may end a role or kin word: the places where
    :func:`_lead_at_end` may find one (one scan of the text instead of trying the whole
    alternation of :data:`PERSON_CONTEXT_LEAD` at every character)."""
    lasts = {word[-1] for word in NOT_NAMES} | set(ROLE_SUFFIXES) | set("床房班:： 是为")
    return re.compile(
        f"(?<=[{re.escape(''.join(sorted(lasts)))}])(?=[{''.join(sorted(_SURNAMES))}])"
    )


#: Characters before a surname in which a role or kin word and its colon may end.
_LEAD_REACH = 12


def _in_word(text: str, i: int) -> bool:
    """Whether the surname at ``i`` opens or closes a common two-character word."""
    common = _common_pairs()
    return text[i : i + 2] in common or (i > 0 and text[i - 1 : i + 1] in common)


@functools.cache
def _common_pairs() -> frozenset[str]:
    """jieba's two-character words at least :data:`_WORD_FREQUENCY` frequent."""
    return frozenset(
        word for word, count in two_character_frequencies().items() if count >= _WORD_FREQUENCY
    )


def _chunks(chosen: list[int]) -> list[list[int]]:
    """``chosen`` in chunks: the first and the last of a quarter of :data:`CHUNK` (while
    the first is read nothing can be fused, while the last is fused nothing is read),
    those between of :data:`CHUNK` but the one before the last, which takes what is left
    (up to 1¼ :data:`CHUNK`). Up to :data:`CHUNK` texts: one chunk."""
    if len(chosen) <= CHUNK:
        return [chosen]
    small = max(1, CHUNK // 4)
    end = len(chosen) - small  # the last chunk's start
    cuts = [0, *range(small, end - small, CHUNK), end, len(chosen)]
    return [chosen[a:b] for a, b in pairwise(cuts)]


def _done(value: _T) -> Future[_T]:
    """A future already holding ``value`` (the one chunk, read on this thread)."""
    future: Future[_T] = Future()
    future.set_result(value)
    return future


@collector_paused()
def fuse_texts(
    texts: Sequence[str], spans: Sequence[Sequence[Span]], wanted: frozenset[str]
) -> list[list[Span]]:
    """Fuse the rules' findings of many texts with the tagger's reading, batched.

    The tagger reads only the stretches :func:`doubts` names, all texts' in one
    batch. Texts that are not free text (:func:`is_free_text`) or where no
    fused entity is wanted keep their findings as they are. Python's cyclic
    collector is paused meanwhile (:func:`anonymize.detect.tagger.collector_paused`).
    """
    out = [sorted(s) for s in spans]
    if not wanted & FUSED:
        return out
    chosen = [i for i, t in enumerate(texts) if is_free_text(t)]
    if not chosen:
        return out
    parts = _chunks(chosen)

    def read(part: list[int]) -> tuple[list[list[Word]], list[list[Learned]]]:
        reader = tagger()
        if reader.has_head:  # the head reads whole texts, as it was trained
            return reader.read([texts[i] for i in part])
        windows = [doubts(texts[i], spans[i]) for i in part]
        return reader.read([texts[i] for i in part], windows)

    # One thread reads the next chunk (the encoder releases the GIL) while this one fuses
    # the chunk read before: the second core is not left idle during fusion. One chunk
    # ahead only: a chunk's words take about 20 times its text's memory.
    ahead = ThreadPoolExecutor(1) if len(parts) > 1 else None
    try:
        coming = ahead.submit(read, parts[0]) if ahead is not None else _done(read(parts[0]))
        for k, part in enumerate(parts):
            words, learned = coming.result()
            if ahead is not None and k + 1 < len(parts):
                coming = ahead.submit(read, parts[k + 1])
            head = tagger().has_head
            for i, found, heads in zip(part, words, learned, strict=True):
                out[i] = fuse(texts[i], spans[i], found, wanted, heads if head else None)
            del words, learned
    finally:
        if ahead is not None:
            ahead.shutdown(cancel_futures=True)
    return out


__all__ = [
    "AFTER",
    "BEFORE",
    "CHUNK",
    "FUSED",
    "HAN_CLASS",
    "MIN_HAN",
    "PLACE_BEFORE",
    "SURE",
    "doubts",
    "fuse",
    "fuse_texts",
    "is_free_text",
]
