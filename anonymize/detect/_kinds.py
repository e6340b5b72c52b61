"""What kind of thing a found name or address is, after fusion has set its edges.

Names that name no person of the record (a person of history, a writer before a work's
title, a medicine, a storm, a nickname …) are dropped, and words said with a name (a
relative's word before it, a kinship word after it, a character of the next word) cut off
(:func:`unnamed_kinds`); what reads as an address and is none (administrative areas alone,
a highway's stretch, a case number, a measure …) is dropped, and an address's number to
another road's number split in two (:func:`placed`). Each check was chosen on the marked
note sets (``tests/data/blind_notes_*.txt``) and measured on sets written blind after it
(``benchmarks/README.md``). :func:`anonymize.detect.fusion.fuse` runs both last, on both
detection paths alike.
"""

from __future__ import annotations

import re

from anonymize.detect._minority import is_minority_name
from anonymize.detect._names import COMPOUND_SURNAMES, RARER_SURNAMES, SAFE_SURNAMES, SURNAMES
from anonymize.detect.entities import address, person
from anonymize.detect.findings import Span

PERSON = person.NAME
ADDRESS = address.NAME
#: A rule's score at or above which a finding is a form's field (姓名：…, 住址：…): it stays
#: as found.
FIELD_SURE = 0.95
#: Characters of the words before a home's or a parcel's address (住址：, 家住, 户籍, 寄往,
#: 送至, 居住).
HOME_CUES = frozenset("住址籍寄送居")
DIGITS = frozenset("0123456789")
_HAN = re.compile("[\u4e00-\u9fff]")
_SURNAMES = frozenset(SURNAMES) | frozenset(RARER_SURNAMES)
_COMMON = frozenset(SAFE_SURNAMES)
_COMPOUND_SET = frozenset(COMPOUND_SURNAMES)
#: What a textbook's unit's number opens with (第|三单元).
_NUMERALS = frozenset("一二两三四五六七八九十几0123456789")


#: The opening of a storm's name in quotes (台风“|杜苏芮”), and its closing quotes.
_STORM = re.compile(r"台风[“\"「‘']$")
_CLOSING_QUOTES = frozenset("”\"」’'")
#: The weather of a diary's day (晴转小雨, 晴间多云), no name.
_WEATHER = re.compile(r"[晴阴雨雪云多]+[转间][\u4e00-\u9fff]*[晴阴雨雪云]")
#: Writers whose works a school's or a reader's record cites by title (鲁迅《故乡》, 李白的
#: 《行路难》): no person of the record (but 刘子涵《我的妈妈》, a pupil's essay, is).
_AUTHORS = frozenset(
    (
        "鲁迅", "李白", "杜甫", "白居易", "苏轼", "王维", "孟浩然", "王安石", "陆游", "辛弃疾",
        "李清照", "陶渊明", "屈原", "韩愈", "柳宗元", "欧阳修",
        "范仲淹", "王勃", "刘禹锡", "杜牧", "李商隐", "王昌龄", "岑参", "贺知章", "曹操",
        "诸葛亮", "司马迁", "曹雪芹", "罗贯中", "施耐庵", "吴承恩", "蒲松龄", "老舍", "巴金",
        "茅盾", "冰心", "朱自清", "郭沫若", "沈从文", "萧红", "张爱玲", "钱钟书", "余华",
        "莫言", "路遥", "汪曾祺", "史铁生", "郁达夫", "徐志摩", "艾青", "戴望舒", "叶圣陶",
    )
)  # fmt: skip
#: People of history every reader knows (秦始皇, 郑成功, 玄奘), named in diaries and lessons,
#: no person of a record wherever they stand: names no one is given now, not a surname and
#: one common character (张飞, 岳飞, 雷锋 are people's names too: a seeded 法定代表人：张飞
#: was lost with them), nor writers' whose names people have (余华, 路遥; 鲁迅, 杜甫, 朱自清 …
#: are here), and people of today every reader knows (钟南山, 王进喜).
_HISTORY = frozenset(
    (
        "秦始皇", "汉武帝", "唐太宗", "武则天", "康熙", "乾隆", "雍正", "朱元璋", "成吉思汗",
        "孙中山", "毛泽东", "周恩来", "邓小平", "郑成功", "林则徐", "文天祥", "玄奘", "鉴真",
        "王昭君", "杨贵妃", "李世民", "赵匡胤", "戚继光", "袁隆平", "钱学森", "焦裕禄", "秦桧",
        "花木兰", "孙悟空", "猪八戒", "唐僧", "梁山伯", "祝英台", "孔子", "孟子", "庄子", "老子",
        "荀子", "墨子", "韩非子", "颜真卿", "王羲之", "李时珍", "张仲景", "祖冲之", "徐霞客",
        "商鞅", "司马光", "梁启超", "松赞干布", "文成公主", "唐玄宗", "宋太祖", "慈禧", "溥仪",
        "光绪", "李鸿章", "曾国藩", "左宗棠", "霍去病", "貂蝉", "杨玉环", "毕昇", "扁鹊", "华佗",
        "黄道婆", "伍子胥", "勾践", "香妃", "容妃", "刘三姐", "阿凡提", "格萨尔", "王圆箓",
        "詹天佑", "邓稼先", "钱三强", "屠呦呦", "梅兰芳", "齐白石", "徐悲鸿", "冼星海", "孔繁森",
        "董存瑞", "黄继光", "邱少云", "刘胡兰", "白求恩", "孟母", "常香玉", "钟南山", "王进喜",
        "鲁迅", "白居易", "苏轼", "陶渊明", "曹雪芹", "诸葛亮", "郭沫若", "朱自清", "闻一多",
        "沈从文",
    )
)  # fmt: skip
#: People of history with a surname and one character, a name people bear too (孔融, 白起,
#: 刘备, 杜甫): history's only where the text names another of history or tells a story
#: (讲秦始皇和白起, “孔融让梨”“司马光砸缸”).
_HISTORY_SHORT = frozenset(
    (
        "刘备", "关羽", "孙权", "项羽", "刘邦", "张骞", "西施", "白起", "蔡伦", "郑和", "孙膑",
        "包拯", "海瑞", "鲁班", "孔融", "杜甫", "屈原",
    )
)  # fmt: skip
#: Any of :data:`_HISTORY` in a text (a short name beside it is history's too).
_HISTORY_NAMED = re.compile("|".join(sorted(_HISTORY, key=len, reverse=True)))
#: Words of a story, a lesson or a tour, where a short name of history is history's.
_STORY = re.compile(r"故事|传说|典故|讲解|课文|历史|情景剧|成语|让梨|古代|朝代|将军|皇帝|三国")
#: People every reader of the notes knows today, singers, actors, founders, named in chats
#: and interviews (周杰伦的演唱会, 赵本山的小品): names no one else is given (not 刘德华 or
#: 马云, which many people have).
_PUBLIC = frozenset(
    (
        "周杰伦", "赵本山", "周星驰", "邓丽君", "马化腾", "易烊千玺", "蔡徐坤", "范冰冰",
        "杨幂", "郎朗", "迪丽热巴", "古力娜扎", "小沈阳", "郭德纲", "凤凰传奇",
    )
)  # fmt: skip
#: Brands and time-honoured shops named like people (同仁堂的板蓝根, 买两支王老吉, 张小泉
#: 剪刀, 杨国福麻辣烫): a thing or a shop, no one of the record.
_BRANDS = frozenset(
    (
        "同仁堂", "王老吉", "陈李济", "陆稿荐", "冶春", "全聚德", "狗不理", "老干妈", "周黑鸭",
        "胡庆余堂", "九芝堂", "片仔癀", "李锦记", "谭木匠", "老凤祥", "钟水饺", "赖汤圆", "龙抄手",
        "蜜雪冰城", "冰峰汽水", "碧螺春", "孔府家", "陈麻婆",
    )
)  # fmt: skip
#: Brands named as people are (张小泉, 杨国福, 周大福): a brand only before a product's or a
#: shop's word or in quotes (张小泉剪刀, 杨国福麻辣烫, “张小泉”专卖店), else a person.
_BRANDS_NAMED = frozenset(
    (
        "张小泉", "杨国福", "马应龙", "周大福", "周生生", "王致和", "吴裕泰", "沈大成", "陈克明",
        "吴良材",
    )
)  # fmt: skip
_PRODUCT_AFTER = re.compile(
    r"[”\"」』]|剪刀|麻辣烫|专卖|旗舰|官方|门店|店(?![长员主])|牌|品牌|商标|金店|首饰|眼镜|面条"
    r"|挂面|腐乳|痔疮|药膏|整一碗"
)
#: A sight's end after two characters or more (华清宫, 秦始皇陵, 玉龙雪山): a place to visit.
_SIGHT_END = re.compile(r"(?<=..)(?:宫|皇陵|雪山|古城|古镇|景区|公园|广场|瀑布)$")
#: A title said after a surname where the notes' dialects say it (杨嬢嬢, 陈孃孃 in Sichuan; 李所,
#: 王局, 刘队, a station's, a bureau's or a squad's head): no one's name.
_SURNAME_TITLE = re.compile(r"(?:嬢嬢|孃孃|嬢|孃|所|局|队)$")
#: Mr and Mrs after a surname in Cantonese (陈生, 叶太), where the text holds Cantonese.
_CANTONESE_TITLE = frozenset("生太")
#: Words for a child, a pet, the breeds a lost pet is called by, an unknown patient, anyone
#: (囡囡, 金毛, 柯基, 15床无名氏, 管他张三李四).
_NO_ONE = frozenset(
    (
        "囡囡", "金毛", "柯基", "泰迪", "哈士奇", "萨摩耶", "比熊", "边牧", "柴犬", "拉布拉多",
        "无名氏", "张三李四",
    )
)  # fmt: skip
#: A shop's name of a surname and 记 (王记面馆, 李记).
_SHOP_MARK = "记"
#: Financial numerals (伍佰捌拾万元): two in a name make it a sum (伍 and 陆 are surnames too).
_CAPITAL_NUMERALS = frozenset("壹贰叁肆伍陆柒捌玖拾佰仟萬億")
#: The day's time a name may be read into (明早, 今晚, 昨儿).
_WHEN = re.compile(r"[今明昨前后][早晚天日年儿]")
#: Words of a death notice: where 孙 before a listed full name is a grandchild.
_MOURNING = re.compile(r"讣告|泣告|孝男|孝女|随侍|享年|辞世|出殡|灵堂")
#: Words of a notice read as names (兹定于…, 孝男：…).
_NOTICE_WORDS = frozenset(("兹定", "孝男", "孝女", "孝子", "孝孙", "孝媳"))
#: A relative's word before a listed name (妻|柯莉, 子|华刚, 阿爸|多杰): none of them a surname.
_KIN_FIRST = frozenset("妻夫女儿父兄弟姐妹子侄媳婿")
#: What comes before a listed relative (亲属：妻…，子…), or the text's start.
_LIST_MARKS = frozenset("，,、：:；;。 ")
_KIN_WORDS = (
    "阿爸", "阿妈", "阿爹", "阿娘", "老公", "老婆", "爱人", "丈夫", "妻子", "儿子", "女儿",
    "父亲", "母亲", "哥哥", "姐姐", "弟弟", "妹妹", "先慈", "先父", "先母", "慈母", "慈父",
    "岳父", "岳母", "公公", "婆婆", "外公", "外婆", "爷爷", "奶奶", "姥姥", "姥爷",
)  # fmt: skip
#: Words read into a name's start that say it is one (孩子叫|天佑): 叫 is a surname seldom.
_CALLED = ("叫",)
#: A dialect's phrases read as a name, or a name's start (Sichuan's 莫得事, 莫得法: no matter;
#: Shanghai's 侬讲, 侬叫: you say, you call; not 莫得胜, a name).
_PHRASE_OPENINGS = ("莫得事", "莫得法", "莫得啥", "莫得问题", "侬讲", "侬叫")
#: Stems of medicines' names (阿莫西林, 咪达唑仑, 瑞芬太尼: the World Health Organization's
#: naming stems as Chinese writes them): no name ends in one.
_MEDICINE = re.compile(
    r"(?:西林|唑仑|太尼|沙星|霉素|地平|洛尔|普利|沙坦|他汀|替丁|拉唑|西泮|唑酮|可松|米松|洛芬|啰音)$"
)
#: A place of worship or memory a name ends in (岳王庙, 灵隐寺), or after a name (沈括|故居,
#: 项王|故里): the person is history's.
_SHRINE_LAST = frozenset("庙寺祠庵")
_MEMORIAL_AFTER = ("故居", "故里", "纪念馆", "祠堂")
#: A nickname in quotes after the word that says so (外号“黄毛”, 人称“缪好人”; not 自称“李伟”,
#: the name a person gives).
_NICKNAME_BEFORE = re.compile(r"(?:外号|绰号|人称|称他|称她|叫他|叫她|昵称|网名|诨名)[“\"「‘']$")
#: Characters written only in Cantonese (佢哋话, 志明|揸车): in no name.
_DIALECT = frozenset("佢哋咗嘅喺唔冇嗰啲咁乜嘢揸睇嚟")
#: A kinship word said after a given name (凤霞|姐, 建华|叔, 德胜|哥); not 伯 or 公, which
#: close given names (钮建伯).
_KIN = frozenset("叔婶姨嫂哥姐爷奶婆嗲")
#: A title or a kinship word of two characters after a full name (梁锦棠|伯伯, 周桂兰|阿婆).
_TITLE_AFTER = (
    "伯伯", "叔叔", "阿姨", "奶奶", "爷爷", "婆婆", "阿伯", "阿婆", "阿公", "大爷", "大妈", "大姐",
    "大哥", "老师", "师傅", "医生",
)  # fmt: skip
#: What follows a surname where a writer speaks of someone by it alone (赵称…, 鲁说：…,
#: 俞不同意): no given name ends so.
_SAID_AFTER_SURNAME = frozenset("称说讲不")
#: A character glued after a name and the word it opens (林建|师傅, 陆鸣|泣告, 郑伟|分四次,
#: 海燕|帮我), or the copula 系 no given name holds (周全|系个人承包).
_GLUED_AFTER = re.compile(
    r"(?:师(?=傅)|泣(?=告)|分(?=[一二两三四五六七八九十0-9])|帮(?=[我你他她佢])|系)"
)
#: A son or daughter said before the name (婚生子|钟子轩, 其子|陆一鸣).
_CHILD_BEFORE = re.compile(r"(?:其|婚生|长|次|幼|之)$")


#: Professions ending in 师 (律师, 医师, 工程师 …): 师 then 傅 is a name's surname there.
_PROFESSIONS = (
    "律", "医", "工程", "教", "药", "技", "会计", "厨", "讲", "法", "设计", "牧", "理发",
)  # fmt: skip


def _master_before(text: str, start: int) -> bool:
    """Whether the found name opens with the second character of 师傅 (周师|傅下午, 随车师|
    傅梅志强), not after a profession in 师 (律师|傅雪梅, a lawyer surnamed 傅)."""
    return text[start - 1 : start + 1] == "师傅" and not text[: start - 1].endswith(_PROFESSIONS)


def unnamed_kinds(text: str, found: list[Span]) -> list[Span]:
    """The findings without names that name no person of the record, and names without
    what was said with them; a form's field (:data:`FIELD_SURE`) stays as it is.

    None: a person of history (秦始皇, :data:`_HISTORY`; 沈括|故居, 岳王庙), a writer cited
    by a work's title (鲁迅|《从百草园到三味书屋》, :data:`_AUTHORS`), a notice's word (兹定于,
    孝男), a medicine (阿莫西林, :data:`_MEDICINE`), a nickname in quotes (外号“黄毛”) or of
    阿 and one character (阿强, 阿婆; not 阿旺, a Tibetan name), a storm (台风“杜苏芮”), a
    day's weather (晴转小雨), Latin letters glued to Chinese (HR小金). Cut: a relative's
    word before a name (妻|柯莉, 阿爸|多杰, 媳|钱丽娟, ，孙|何梓峰), a Cantonese word from its
    first character on (志明|揸车; 佢哋话 is none), a kinship word after a given name (建华|
    叔; not 王亚公, a common surname's full name), a character that opens the next word
    (林建|师傅, 陆鸣|泣告, 郑伟|分四次, 海燕|帮我), a child's 子 or a title's 傅 before a name
    (婚生子|钟子轩, 师傅|梅志强). On the marked sets of 2026-12-05 to 12-07:
    ``benchmarks/README.md``.
    """
    out: list[Span] = []
    for s in found:
        if s.entity != PERSON or s.score >= FIELD_SURE:
            out.append(s)
            continue
        name = text[s.start : s.end]
        if (
            name in _HISTORY
            or (
                name in _HISTORY_SHORT
                and (_STORY.search(text) is not None or _HISTORY_NAMED.search(text) is not None)
            )
            or name in _PUBLIC
            or name in _BRANDS
            or (name in _BRANDS_NAMED and _PRODUCT_AFTER.match(text, s.end) is not None)
            or _SIGHT_END.search(name) is not None
            or (name in _AUTHORS and text.startswith(("《", "的《"), s.end))
            or name in _NOTICE_WORDS
            or _MEDICINE.search(name) is not None
            or name[-1] in _SHRINE_LAST
            or text.startswith(_MEMORIAL_AFTER, s.end)
            or _NICKNAME_BEFORE.search(text, max(0, s.start - 3), s.start) is not None
            or (any(c.isascii() and c.isalpha() for c in name) and _HAN.search(name) is not None)
            or (
                _STORM.search(text, max(0, s.start - 3), s.start) is not None
                and text[s.end : s.end + 1] in _CLOSING_QUOTES
            )
            or _WEATHER.fullmatch(name) is not None
            or ((sky := _WEATHER.match(text, s.start)) is not None and sky.end() > s.end)
            or name in _NO_ONE
            or name.startswith(_PHRASE_OPENINGS)
            or (len(name) == 2 and name[0] in _SURNAMES and name[1] in _SAID_AFTER_SURNAME)
            or name[-1] == "籍"  # 德国籍: a nationality
            or text.startswith("〔", s.end)  # 深劳人仲案〔2024〕: a case's number
            or sum(c in _CAPITAL_NUMERALS for c in name) >= 2  # 伍佰捌; 陆一鸣 is a name
            or _WHEN.fullmatch(name) is not None
            or (
                len(name) == 2
                and name[0] in _SURNAMES
                and (
                    name[1] == _SHOP_MARK
                    or _SURNAME_TITLE.search(name) is not None
                    or (name[1] in _CANTONESE_TITLE and any(c in _DIALECT for c in text))
                )
            )
            or (len(name) == 3 and name[0] in _SURNAMES and name[1:] in ("嬢嬢", "孃孃"))
            or (len(name) >= 2 and _master_before(text, s.start) and name[1] not in _SURNAMES)
            or (len(name) == 2 and name[0] == "阿" and not is_minority_name(name))
        ):
            continue
        start, end = s.start, s.end
        dialect = next((i for i, c in enumerate(name) if c in _DIALECT), None)
        if dialect is not None:
            end = start + dialect
        elif len(name) == 3 and name[-1] in _KIN and name[0] not in _COMMON:
            end -= 1
        elif (
            len(name) == 4
            and name[-1] in _KIN
            and name[0] in _SURNAMES
            and name[:2] not in _COMPOUND_SET
        ):
            end -= 1  # 黄水清|叔: a full name and a kinship word
        elif (title := next((t for t in _TITLE_AFTER if name.endswith(t)), None)) is not None and (
            len(name) - len(title) >= 2 and name[0] in _SURNAMES
        ):
            end -= len(title)  # 梁锦棠|伯伯
        elif len(name) >= 3 and _GLUED_AFTER.match(text, end - 1) is not None:
            end -= 1
        child = _CHILD_BEFORE.search(text, 0, start) is not None
        kin = next((w for w in (*_KIN_WORDS, *_CALLED) if name.startswith(w)), "")
        if kin and end - start - len(kin) >= 2:
            start += len(kin)  # 阿爸|多杰
        elif (
            name[0] in _KIN_FIRST
            and end - start >= 3
            and (name[1] in _SURNAMES or is_minority_name(name[1:]))
        ):
            listed = start == 0 or text[start - 1] in _LIST_MARKS
            if name[0] != "子" or child or listed:
                start += 1  # 妻|柯莉, 婚生子|钟子轩, ，子|华刚 (not 子孙伟明 alone)
        elif (
            name[0] == "孙"
            and len(name) == 4
            and name[1] in _SURNAMES
            and name[1:3] not in _COMPOUND_SET
            and (start == 0 or text[start - 1] in _LIST_MARKS)
            and _MOURNING.search(text) is not None
        ):
            start += 1  # 孝女何美玲，孙|何梓峰: a grandchild listed in a death notice (not
            # 孙王秀英, a married woman's two surnames, elsewhere)
        elif _master_before(text, start) and end - start >= 3 and name[1] in _SURNAMES:
            start += 1  # 随车师|傅梅志强: the title's second character
        if end - start >= 2:
            out.append(s if (start, end) == (s.start, s.end) else Span(start, end, PERSON, s.score))
    return out


#: Administrative areas alone, one after another (林芝市巴宜区, 美兰区人和坊街道, 元阳县新街镇):
#: no road's, village's or number's character in a part (光明路家属区, 南关村安置区 are
#: places people live in; 鼓楼区 is a district) but before 街道 (米市巷街道, 中关村街道),
#: not a 小区, 社区, 园区 …, a 小镇 or a 超市.
AREAS_ONLY = re.compile(
    r"(?:[^\W\d_路巷弄号栋幢座村屯寨组]{1,9}?"
    r"(?:特别行政区|自治区|自治州|自治县|省|(?<![超城])市"
    r"|(?<![小社园校景营片东西南北厂矿])区|县|州|盟|旗|(?<!小)镇|乡)"
    r"|[^\W\d_号栋幢座]{1,9}?街道)+"
)


#: Characters one of which every address holds (or a digit): a place's part, a road, a
#: village, an estate, a building (武汉欢乐谷, 柬埔寨金边: a sight or a city abroad, none).
_ADDRESS_PART = frozenset("省市区县旗盟镇乡村组屯路街道巷弄号栋幢座室苑园楼院里坊庄湾寨社城府邸居")
#: A highway's stretch (310国道伊川, G318国道海子山, 京港澳高速石家庄): where, not an address,
#: unless a number, a village or a building follows on it (310国道旁李家村12号, 高速大厦).
_ROAD_NETWORK = re.compile(r"[0-9](?:国道|省道|县道|乡道)|高速")
_ON_THE_ROAD = re.compile(r"[0-9]+号|村|[楼栋幢院苑室]|大厦")
#: A court's case number (（2024）豫0105执恢312号), not a house's.
_CASE_NUMBER = re.compile(r"[\u4e00-\u9fff][0-9]{4}")


#: A measure after a number (…柳州站水位82.6米, …东郊镇风力达15级): no house's number.
_MEASURE_END = re.compile(r"[0-9.]+(?:米|公里|千米|毫米|厘米|度|级|℃)$|水位")
#: Where an address's last character opens a word of no place (…部分区|域, …某市|场).
_WORD_AFTER = frozenset({"区域", "市场"})
#: One address's number to another's on the same or another road (人民路1288号至人民路1560号).
_TO_ANOTHER = re.compile(r"(?<=[0-9]号)[至到](?=[\u4e00-\u9fff]{1,8}?(?:路|街|道|巷|弄)[0-9]+号)")


def placed(text: str, found: list[Span]) -> list[Span]:
    """The findings without what reads as an address and is none: administrative areas
    alone (林芝市巴宜区|一处山林, 七里河区|社保大厅: a district or a town is where something
    is, no one's address), a place with no address's part (:data:`_ADDRESS_PART`; 嘎查 and
    苏木 are villages), a highway's stretch, a case number, a number that is a decimal's
    (…星子站水位19|.86米), a measure's (风力达15级) or a line's (地铁2号|线), a word's start (…部分
    区|域), a hotline after the areas (城中区12345), a textbook's unit (第|三单元); an
    address's number to another road's is two addresses (…1288号|至|人民路1560号), a police
    station's name is none (平江路派出所), Cantonese words read into an address are cut off
    (订咗|荔湾区上下九路52号|嗰间, :func:`_undialected`). A form's
    field stays (住址：南京市鼓楼区, :data:`FIELD_SURE`), and so do areas after a home's or a
    parcel's word (家住…幸福乡, :data:`HOME_CUES`). On the 35 marked sets of 2026-12-05 to
    12-07: 22 such findings and one such mark (the 嘎查)."""
    out = []
    for s in found:
        if s.entity == ADDRESS and any(c in _DIALECT for c in text[s.start : s.end]):
            s = _undialected(text, s)  # 咗|荔湾区上下九路52号|嗰间陶陶居
        if s.entity == ADDRESS and (to := _TO_ANOTHER.search(text, s.start, s.end)) is not None:
            out += [
                Span(s.start, to.start(), ADDRESS, s.score),
                Span(to.end(), s.end, ADDRESS, s.score),
            ]
        else:
            out.append(s)  # …1288号|至|人民路1560号: two addresses
    return [
        s for s in out if s.entity != ADDRESS or s.score >= FIELD_SURE or _address_form(text, s)
    ]


def _undialected(text: str, span: Span) -> Span:
    """An address without the Cantonese words read into it (订咗|荔湾区…52号|嗰间): from the
    first character after those that open it to the first such character after that."""
    start = span.start
    while start < span.end and text[start] in _DIALECT:
        start += 1
    end = next((i for i in range(start, span.end) if text[i] in _DIALECT), span.end)
    return Span(start, end, span.entity, span.score)


def _address_form(text: str, span: Span) -> bool:
    """Whether an address found is one by its form (see :func:`placed`)."""
    piece = text[span.start : span.end]
    if not piece:
        return False
    home = any(c in HOME_CUES for c in text[max(0, span.start - 3) : span.start])
    if AREAS_ONLY.fullmatch(piece) is not None and not home:
        return False  # but 家住…幸福乡, 户籍…: the areas are a home's
    highway = _ROAD_NETWORK.search(piece)
    if highway is not None and _ON_THE_ROAD.search(piece, highway.end()) is None:
        return False
    if not any(c in _ADDRESS_PART or c.isdigit() for c in piece) and not (
        "嘎查" in piece or "苏木" in piece
    ):
        return False
    if _CASE_NUMBER.match(piece) is not None or _MEASURE_END.search(piece) is not None:
        return False
    if text[span.end - 1 : span.end + 1] in _WORD_AFTER or "号线" in piece:
        return False
    if piece.endswith("派出所") or text[span.end - 2 : span.end + 1] == "派出所":
        return False  # 平江路派出所|辖区: a police station's name
    if piece[-1] in DIGITS and AREAS_ONLY.fullmatch(piece.rstrip("0123456789")) is not None:
        return False  # 柳州市城中区|12345: a hotline's number after the areas
    after = text[span.end : span.end + 2]
    if piece[-1].isdigit() and after[:1] == "." and after[1:].isdigit():
        return False
    if piece[-1] == "号" and after[:1] == "线":
        return False
    return not (text[span.start - 1 : span.start] == "第" and piece[0] in _NUMERALS)


__all__ = ["AREAS_ONLY", "DIGITS", "FIELD_SURE", "HOME_CUES", "placed", "unnamed_kinds"]
