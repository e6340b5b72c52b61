"""Uyghur, Kazakh, Tibetan and Mongolian names written in Chinese characters.

Such names have no Chinese surname, so the name rules (a surname, then one or
two given-name characters) never read them, and the trained tagger cuts them
inside more often than not (阿依古丽·买买|提现住, 艾克拜尔·吐|尔逊). They are
written with a small, closed set of syllables: the common names of each
language transcribed as Chinese puts them (买买提, 古丽, 阿不都, 次仁, 卓玛,
其其格, 巴特尔 …), much as a few hundred surnames cover Han names. A run of
Chinese characters that is wholly such syllables, of at least two of them or
three characters, optionally two runs joined by a middle dot, is read as one
name (:func:`minority_names`); fusion lets it replace the pieces the rules or
the tagger found inside it.

The syllables are the ones public name lists and news writing use most; a
syllable that is also a common Chinese word on its own (阿里, 巴特 as a verb …)
is left out or only allowed inside a longer run. One-character pieces (措,
江, 汗) may only close a run (拉毛措, 买买提江).
"""

from __future__ import annotations

import functools
import re

from anonymize.detect._names import GLUED_WORD

#: Syllables of two or more characters (Uyghur and Kazakh, Tibetan, Mongolian).
SYLLABLES = (
    # Uyghur, Kazakh, Hui usage
    "买买提", "阿不都", "阿卜杜", "阿布都", "艾力", "艾山", "艾合买提", "艾尔肯", "艾克拜尔",
    "艾则孜", "艾孜", "古丽", "阿依", "帕提", "热依拉", "迪丽", "娜尔", "努尔", "吐尔逊",
    "吐尔洪", "吐尔", "热合曼", "库尔班", "托合提", "吾斯曼", "阿卜杜拉", "阿不都拉", "阿力木",
    "图尔荪", "玉苏普", "阿不来提", "阿布力孜", "伊力", "亚森", "依明", "吐逊", "塔依尔",
    "麦麦提", "买合木提", "沙吾提", "吾买尔", "肉孜", "卡德尔", "卡迪尔", "阿迪力", "阿里木",
    "阿曼", "巴哈尔", "布维", "海力其", "哈力克", "米吉提", "再努尔", "祖力", "排孜", "皮达",
    "克然木", "库尔", "加依", "热西提", "努尔兰", "叶尔兰", "别克", "哈力", "马合", "木提",
    "阿依古丽", "帕提古丽", "古丽娜尔", "迪丽娜尔", "热娜", "阿丽米热", "米热", "孜古丽",
    "帕尔哈提", "阿布都", "热依木", "达吾提", "木沙", "阿布拉", "依木", "米拉", "艾买提",
    "赛买提", "阿吾提", "吐尔地", "艾海提",
    "阿西木", "马哈木提", "热孜万", "赛力克", "古丽娜",
    "哈斯木", "卡斯木", "麦麦提明", "阿衣", "吾守尔", "阿卜力克木", "阿布力克木",
    # Tibetan
    "次仁", "卓玛", "达瓦", "扎西", "格桑", "拉姆", "央金", "旺堆", "多吉", "平措", "才让",
    "阿旺", "晋美", "德吉", "尼玛", "索朗", "顿珠", "益西", "洛桑", "曲珍", "东智", "拉毛",
    "仁青", "旦增", "罗布", "普布", "白玛", "边巴", "巴桑", "次旦", "贡嘎", "群培", "嘎玛",
    "琼达", "次旺", "桑珠", "加措", "强巴", "丹增", "措姆", "拉巴", "米玛", "卓嘎", "德庆", "桑吉",
    "才旦", "多杰", "更登", "卓尕", "吉美", "旺姆", "玉珍", "央宗", "次珍", "德央", "尕藏",
    # Mongolian
    "其其格", "乌云", "巴特尔", "宝音", "那仁", "朝鲁", "苏和", "格日勒", "吉日格拉", "吉日木图",
    "巴根",
    "萨其拉", "图雅", "斯琴",
    "巴雅尔", "额尔敦", "孟和", "阿拉坦", "乌兰", "敖登", "萨仁", "高娃", "其木格", "哈斯",
    "巴图", "达来", "吉日嘎拉", "毕力格", "额尔德尼", "桑布", "都兰", "琪琪格", "塔娜", "那日苏",
    "查干", "呼和", "包音", "满都拉", "特木尔", "巴雅", "娜仁", "格日乐", "图", "门",
    "花", "布和", "阿木古郎", "乌日娜", "其其", "吉日格勒", "格勒",
)  # fmt: skip
#: One character that may close a run, never open one (拉毛措, 买买提江, 乌兰其其格).
CLOSERS = "措江汗格图门花"
#: Yi clan names, which open a Yi name of four characters (吉克阿依, 沙马拉且, 曲比石一).
YI_CLANS = (
    "吉克", "沙马", "沙玛", "曲比", "阿苦", "阿说", "吉木", "海来", "俄底", "阿西", "马海",
    "勒格", "阿约", "瓦扎", "吉伍", "俄木", "日火", "吉布", "吉子", "苏呷", "的日", "阿侯",
    "吉史", "克其", "木乃", "巴莫", "阿苏", "阿牛",
)  # fmt: skip
#: Clan names that open no Chinese word or Han name (unlike 马海, 海来, 阿西, 木乃): a Yi name
#: that opens with one is a name wherever it stands (邻户吉克石布家, 村民沙马拉哈来).
DISTINCT_YI_CLANS = frozenset(
    ("吉克", "沙马", "曲比", "阿苦", "俄木", "阿牛", "阿苏", "吉木", "俄底", "勒格", "阿约", "瓦扎",
     "吉伍", "吉布", "吉子", "阿侯", "吉史", "巴莫")
)  # fmt: skip
#: Han surnames Mongolians of Inner Mongolia put before a Mongolian name (包宝音图).
MONGOLIAN_SURNAMES = "包"


#: What ends no Yi name but a clause (阿牛来了, 马海燕说): a verb or a particle glued on.
_NOT_LAST = "说称讲问来了在和与同都也就"
#: Characters that may follow a Yi name (吉克阿依户, 吉克曲布今年, 阿苏么日家).
_YI_NEXT = "户家今现已等说称来帮"


@functools.cache
def _openings() -> frozenset[str]:
    """The first two characters of every syllable and clan name: every match opens with one."""
    return frozenset(s[:2] for s in (*SYLLABLES, *YI_CLANS) if len(s) >= 2)


@functools.cache
def _opening() -> re.Pattern[str]:
    """Any of :func:`_openings` (a search in C, seven times faster than testing each pair)."""
    return re.compile("|".join(sorted(_openings())))


@functools.cache
def _pattern() -> re.Pattern[str]:
    long = sorted({s for s in SYLLABLES if len(s) >= 2}, key=len, reverse=True)
    syllable = "|".join(long)
    run = f"[{MONGOLIAN_SURNAMES}]?(?:{syllable})+[{CLOSERS}]?"
    yi = f"(?:{'|'.join(YI_CLANS)})[\u4e00-\u9fff](?![{_NOT_LAST}])[\u4e00-\u9fff]"
    after_yi = f"(?![\u4e00-\u9fff])|(?=[{_YI_NEXT}]|{GLUED_WORD})"
    # a distinct clan's name is one wherever it stands (班主任叮嘱阿苏拉则注意安全)
    distinct = (
        f"(?:{'|'.join(sorted(DISTINCT_YI_CLANS))})[\u4e00-\u9fff](?![{_NOT_LAST}])[\u4e00-\u9fff]"
    )
    return re.compile(f"(?:{run})(?:·(?:{run}))?|{yi}(?:{after_yi})|{distinct}")


def is_minority_name(word: str) -> bool:
    """Whether ``word`` is wholly one name of these syllables (洛桑, 那日苏, 阿苏木呷).

    A single syllable of two characters counts here: the caller asks only of a
    word the tagger already reads as a name.
    """
    return word in _SYLLABLE_SET or _pattern().fullmatch(word) is not None


_SYLLABLE_SET = frozenset(SYLLABLES)


def completes_syllable(text: str, end: int) -> bool:
    """Whether the character at ``end`` closes a syllable of three or four characters that
    began before it (吐尔|地, 艾海|提): it is the name's, whatever LAC reads it as."""
    return any(text[end - k + 1 : end + 1] in _SYLLABLE_SET for k in (3, 4) if end - k + 1 >= 0)


def minority_names(text: str) -> list[tuple[int, int, bool]]:
    """The spans of ``text`` that may be one Uyghur, Tibetan or Mongolian name.

    Each is ``(start, end, dotted)``: two runs of syllables joined by a middle
    dot (``dotted``), one run of at least three characters, or a Yi clan name
    and two characters before a non-Chinese one (沙马拉且、). An undotted run
    is a name only in a name's place; the caller decides (fusion: after a role
    or context word, a bed number, a non-Chinese character, or under a tagger
    ``PER`` word).

    >>> text = "参保人阿依古丽·买买提现住水磨沟区，其妻乌云其木格在家。"
    >>> [(text[a:b], dotted) for a, b, dotted in minority_names(text)]
    [('阿依古丽·买买提', True), ('乌云其木格', False)]
    """
    if _opening().search(text) is None:
        return []  # most texts: no two characters open a syllable, the long regex need not run
    out: list[tuple[int, int, bool]] = []
    for m in _pattern().finditer(text):
        piece = m.group()
        if "·" in piece or len(piece) >= 3:
            out.append((m.start(), m.end(), "·" in piece))
    return out


__all__ = [
    "CLOSERS",
    "DISTINCT_YI_CLANS",
    "MONGOLIAN_SURNAMES",
    "SYLLABLES",
    "YI_CLANS",
    "is_minority_name",
    "minority_names",
]
