"""Names: one set of rules, two paths, the same spans.

Every case runs through both paths (:mod:`tests.unit.anonymize.detect._detect`) and
must give exactly the expected names. The cases are general forms of Chinese
records (a name after a verb or a particle, after a role word, glued to the
word that follows it, a rare dictionary word after a field label) and
words that begin with a surname but are no name.
"""

from __future__ import annotations

import random

import polars as pl
import pytest

from anonymize.detect import rules
from anonymize.detect.vector import _drop_contained
from tests.unit.anonymize.detect._detect import PATHS, values

NAME = "PERSON"

#: (text, the names in it separated by spaces)
FOUND = [
    ("股东王芳持股百分之六十", "王芳"),  # after a role
    ("工作人员刘洋解释", "刘洋"),  # after a word ending in 员
    ("会议由张伟主持", "张伟"),  # glued to a following word, after a preposition
    ("今收到赵敏交来押金", "赵敏"),  # 交来 follows: not 赵敏交
    ("请王春梅本人携带身份证", "王春梅"),  # 本人 follows
    ("现将李强等三人的材料", "李强"),  # between a stop character and a particle
    ("证人张伟认为", "张伟"),  # after a context word, before a common word
    ("受益人王芳账户", "王芳"),  # the same, two characters tried before three
    ("感谢周晓燕同志的热心帮助", "周晓燕"),  # before an honorific
    ("我和欧阳娜娜是同学", "欧阳娜娜"),  # after a particle, compound surname, two given
    ("已核实王霞的银行卡", "王霞"),  # between a verb and 的
    ("经核查，田文杰的申请材料齐全", "田文杰"),  # a clause's subject, before 的
    ("已电话回访蒋红梅，对处理结果满意", "蒋红梅"),  # after a verb, before a comma
    ("转告钱芳：会议改到周五", "钱芳"),  # after a verb, before a colon
    ("孙立新的手机号是13912345678", "孙立新"),  # a cell's first word, before 的
    ("王建民电话13912345678", "王建民"),  # glued to the word that follows
    ("孔令辉身份证丢失", "孔令辉"),  # glued to 身份证
    ("收货人：高利 电话13800138000", "高利"),  # 高利 is a rare word (usury): a label decides
    ("患者黄东，男，45岁", "黄东"),  # jieba lists 黄东 as a place (frequency 2)
    ("联系人：陆金凤\n备注：无", "陆金凤"),  # 陆金 is a rare noun
    ("被告人吴志强于2019年到案", "吴志强"),  # after a role word, before 于
    ("周玉兰、马桂香两人于昨日到场", "周玉兰 马桂香"),  # two, the second before 两人
    ("唐建华", "唐建华"),  # a whole cell
    ("护士长孙红梅于今日查房", "孙红梅"),  # the longer role word leads, not 长孙…
    ("客服赵海燕已同意退款", "赵海燕"),  # a role word
    ("其监护人彭勇常年在外务工", "彭勇"),  # 常年 takes the third character
    ("李建平反映路灯不亮", "李建平"),  # 平反 is a word, but 反映 the more frequent one
    ("郑凤英名下登记有车辆", "郑凤英"),  # 英名 is too rare a word to take a character
    ("客户董丹飞来电咨询", "董丹飞"),  # 飞来 is a word, but 来电 follows names
    ("田桂慧女士反映", "田桂慧"),  # 桂 opens no name before a title: it is a given name here
    ("要不问问关磊女士", "关磊"),  # before an honorific, a surname that opens few words
]

NOT_NAMES = [
    "他把钱交了",  # a stop character and 了: no particle that follows a name
    "过程合作很顺利",  # 过程 and 合作 straddle the edges of 程合
    "姑姑来园接孩子",  # 来 after a role is a verb, not a surname
    "诉被告凌云科技有限公司",  # a company's name follows
    "请于收函后七日内回复",  # 于 after a verb is a preposition
    "万迅电脑科技有限公司",  # a shop name before 电脑: 电 ends a name only in 电话 / 电邮
    "兰金电子超市",  # the same before 电子
    "同时控制两个变量",  # 同时 is a word, not 同 + a name
    "叫车服务已开通",  # 叫车 is a word
    "对于这个问题大家意见一致",  # 于 is a surname, but 对于 a word
    "高中毕业后参加工作",  # a common word
    "黄金价格上涨",  # a common word
    "江苏省南京市",  # places
    "王府井大街",  # a street
    "谢谢你的帮助",  # tagged nr in jieba's dictionary, far too frequent to be a name
    "马上就到",  # an adverb
    "周末加班",  # a noun
    "和平路123号",  # 和 is a particle and a surname; 平路 is no name
    "同时感谢指导老师",  # 感谢 straddles the start of 谢指导 (before an honorific)
    "班主任老师主持会议",  # 主任 straddles the start of 任老 … no name before 老师
    "【查房记录】",  # 查 opens a clause as a verb
    "（原件）来行申请挂失",  # 来 opens a clause as a verb
    "共计500元，由其女儿办理",  # 由 opens a clause as a preposition
    "地方开发报告",  # 地方 straddles the start of 方开发 (glued to 报告)
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("text", "name"), FOUND)
def test_person_when_name_in_general_form_then_found_exactly(
    path: str, text: str, name: str
) -> None:
    found = {value for entity, value in values(path, text) if entity == NAME}
    assert found == set(name.split())


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("text", NOT_NAMES)
def test_person_when_word_begins_with_surname_then_no_name(path: str, text: str) -> None:
    assert {value for entity, value in values(path, text) if entity == NAME} == set()


@pytest.mark.parametrize(
    ("last", "after", "ends"),
    [
        ("芳", "电话1", True),  # a follow word
        ("芳", "电子邮", True),  # e-mail
        ("迅", "电脑科", False),  # a word-start character that begins another word
        ("芳", "的银行", True),  # a particle
        ("芳", "，男，", True),  # punctuation
        ("芳", "\n", True),  # the end of the text (padding)
        ("芳", "先生", True),  # an honorific
        ("芳", "地产开", False),  # 地 begins 地址 only
        ("芳", "主持会", True),  # a glued word (王芳主持)
        ("芳", "主要是", False),  # 主 ends a name only as the first character of a glued word
        ("交", "来押金", False),  # 王芳交来押金: the name's last character opens 交来
        ("梅", "本人携", True),  # 王春梅本人: 本人 follows the name
        ("本", "人携带", False),  # 王春梅本 would take 本 of 本人
    ],
)
def test_name_follow_when_text_after_name_then_decides(last: str, after: str, ends: bool) -> None:
    import re

    from anonymize.detect._names import FOLLOW_WIDTH, NAME_FOLLOW, straddling_words

    follows = bool(re.match(NAME_FOLLOW, after[:FOLLOW_WIDTH]))
    assert (follows and last + after[0] not in straddling_words()) is ends


def test_drop_contained_when_random_spans_then_polars_twin_agrees() -> None:
    r = random.Random(7)
    spans = []
    for row in range(300):
        for _ in range(r.randint(1, 4)):
            start = r.randint(0, 6)
            spans.append((row, start, start + r.randint(1, 4), r.choice((0.6, 0.7, 0.85, 0.95))))
    frame = pl.DataFrame(
        {
            "row": [s[0] for s in spans],
            "entity": [NAME] * len(spans),
            "start": [s[1] for s in spans],
            "end": [s[2] for s in spans],
            "score": [s[3] for s in spans],
        }
    )
    kept = _drop_contained(frame)
    got = sorted(kept.select("row", "start", "end", "score").iter_rows())
    expected = sorted(
        (row, *span)
        for row in range(300)
        for span in rules.drop_contained([s[1:] for s in spans if s[0] == row])
    )
    assert got == expected
    assert len(expected) < len(spans)  # some were contained
