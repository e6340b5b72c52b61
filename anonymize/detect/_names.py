"""Word lists and regex fragments behind the detection of personal names.

Not API: surnames, name stop characters, jieba's common words, and the name
regexes the rules of :mod:`anonymize.detect.entities.person` use (both detection paths
share them; the regexes are in the subset Python and Rust agree on, but for the ``_RE``
one, which only Python's ``re`` runs).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from anonymize.detect.text import alternation

#: Single-character surnames, most frequent first (the common 百家姓 list, ~400 names).
SURNAMES = (
    "王李张刘陈杨黄吴赵周徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧肖蔡潘田董袁余叶蒋杜"
    "苏魏程吕丁沈任姚卢傅付钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎闫薛尹段雷鞠黎史"
    "龙陶贺顾毛郝龚邵万钱严赖覃洪武莫孔汤向常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷"
    "詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管"
    "柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席"
    "卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    "官封谈匡惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆"
    "朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌"
    "母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利于呼居揭干但尉冶斯元束檀"
    "衣信展阴昝智幸奉植衡富尧闭由"
)

#: Rarer surnames the tagger reads (宓, 訾, 仉, 禚 …) but no rule does: fusion takes them
#: where LAC reads a name (``PER``) or a list does; the span head's training draws them.
RARER_SURNAMES = (
    "宓訾仉禚莘荀习厍蒯禤眭邴羿笪暨逯郗隗钭茹"
    # rarer surnames still met in records (暴, 竺, 缑, 鄂, 綦 …)
    "暴竺缑鄂綦禄怀钮陇贝凤乜逄郦弓拓蹇琚糜蔚贲仝"
    # Hui, Dai and Mongolian family names and a few more (纳文杰, 刀建明, 岩温, 包宝音图)
    "纳刀岩包晋储郇沃母池怀步战汝农桓麴雒勾殳卯韶"
    # surnames that are common words too (冒, 过, 种, 归, 从, 代 …): found where LAC or the
    # span head reads a name over them, or a form's field holds one (房东：归建新)
    "归冒过种粘妥吝畅拜税秘滚锁谯代从折"
)

#: Two-character surnames; tried before the single ones.
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "呼延",
    "轩辕",
    "澹台",
    "申屠",
    "钟离",
    "宗政",
    "濮阳",
    "淳于",
    "赫连",
    "万俟",
    "闻人",
    "东郭",
)

#: Surnames that are rarely anything else in running text. The honorific rule
#: (王小明先生) has no anchor on its left, so a surname that is also a common
#: word (和, 向, 常, 时 …) or ends one (保安, 对方, 现金, 主管, 门卫, 会计, 新郎 …)
#: would pull the preceding character into the name, and the name after it is then lost.
SAFE_SURNAMES = (
    "王李张刘陈杨黄吴赵周徐孙马朱胡林郭何罗郑梁谢宋唐许邓冯韩曹曾彭萧肖蔡潘董袁余叶蒋杜苏魏"
    "程吕沈任姚卢傅钟姜崔谭廖范汪陆戴贾韦夏邱侯邹熊孟秦薛尹段雷黎史陶贺顾毛郝龚邵钱严赖覃洪"
    "莫孔汤温康施樊葛邢乔伍庞颜倪庄聂章鲁岳翟殷詹耿焦俞柳祝阮柯纪梅童凌毕季裴霍涂苗盛翁冉骆"
    "丁阎闫鞠武牛申欧关左甘尚符舒谷曲蓝辛靳柴蒙鲍喻祁蒲滕屈饶牟艾穆卓古吉缪简芦麦褚娄窦戚"
    "岑景宫卜冷晏米柏宗瞿佟臧闵苟邬卞姬仇栾隋刁沙巫寇桑甄丛仲虞敖巩佘麻苑迟邝封匡荆冀郁胥"
    "栗鄢谌奚皮粟冼蔺阚屠朴廉禹祖漆巴卿狄晋扈晁"
)

#: Characters that end a name rather than continue it: particles, pronouns,
#: gender, a count (两人), titles' first characters and the first characters of
#: the context words that usually follow a name (电话, 手机, 身份证, 地址, 先生, 女士).
NAME_STOP = (
    "的了在是和与及等说讲来去住男女电手身先于已年月日岁号省市区县路街镇村乡称也就还又很把被给"
    "从到对为以而或着过吗呢吧啊呀我你他她它们这那哪谁个位名姓址话机证卡码今昨请将要地址身份"
    "反持办委表投咨申签拨报看两作系未诉代因自替独"
)


#: Stop characters that begin a word rather than make one: after a name they end it
#: only as the start of one of :data:`FOLLOW_WORDS` (王芳电话 …, but 万迅电脑 is a shop).
NAME_WORD_STARTS = "电手身先地址话机证卡码份"
#: Words that may follow a name directly, glued to it (王芳电话, 李欣身份证号 …).
FOLLOW_WORDS = ("电话", "电邮", "电子邮", "手机", "身份", "先生", "地址", "证件", "卡号")
#: How many characters after a name :data:`NAME_FOLLOW` reads (the longest follow word).
FOLLOW_WIDTH = max(len(word) for word in FOLLOW_WORDS)

#: CJK unified ideographs, as the body of a character class.
HAN = "\\u4e00-\\u9fff"


def han_except(excluded: str) -> str:
    """A class body for CJK unified ideographs (U+4E00-U+9FFF) minus ``excluded``."""
    parts: list[str] = []
    low = 0x4E00
    for code in sorted({ord(c) for c in excluded}):
        if low <= code - 1:
            parts.append(f"\\u{low:04x}-\\u{code - 1:04x}")
        low = code + 1
    parts.append(f"\\u{low:04x}-\\u9fff")
    return "".join(parts)


_GIVEN = f"[{han_except(NAME_STOP)}]"
_COMPOUND = "|".join(COMPOUND_SURNAMES)
#: The same with the surnames that are rarely other words, given name lazy (before a title).
SAFE_PERSON_NAME = f"(?:{_COMPOUND}|[{SAFE_SURNAMES}]){_GIVEN}{{1,2}}?"
#: Last characters of role nouns (经手人, 柜员, 志愿者, 老师, 局长, 辅警, 市民): any two
#: characters ending in one stand before a name as a role (股东 does not end in one).
ROLE_SUFFIXES = "人员者师长警民"
#: Other roles, titles and kinship words that stand before a name in records (股东张三,
#: 出纳李四, 母亲赵六): parties and office titles, professions and family members.
ROLE_WORDS = (
    "股东", "董事", "监事", "总经理", "副经理", "经理", "主任", "副主任", "主管", "会计", "出纳",
    "秘书", "书记", "主席", "法官", "检察官", "警官", "医生", "护士", "教授", "父亲", "母亲",
    "儿子", "女儿", "妻子", "丈夫", "配偶", "哥哥", "姐姐", "弟弟", "妹妹", "爷爷", "奶奶",
    "外公", "外婆", "孙子", "孙女", "家属", "亲属", "房东", "租客", "保安", "门卫", "保姆",
    "护工", "社工", "班主任", "骑手", "失主", "房主", "雇主", "患儿", "孕妇", "产妇", "外孙",
    "外孙女", "外甥", "外甥女", "侄子", "侄女", "姑姑", "姑妈", "舅舅", "叔叔", "伯伯", "婶婶",
    "嫂子", "姐夫", "妹夫", "女婿", "儿媳", "岳父", "岳母", "公公", "婆婆", "朋友", "网友",
    "教练", "同志", "表哥", "表姐", "表弟", "表妹", "堂哥", "堂姐", "堂弟", "堂妹", "舅妈",
    "姨妈", "姨父", "姑父", "邻居", "室友", "舍友", "同桌", "队友", "客服", "坐席", "前台",
    "顾问", "助理", "总裁", "副总裁", "董事长", "总监", "老板", "店主", "领导", "护士长",
    "维修工", "环卫工", "清洁工", "保洁", "电工", "焊工", "木工", "农民工",
    "其母", "其父", "其妻", "其夫", "其子", "其女", "脱贫户", "监测户", "低保户", "贫困户",
    "五保户", "困难户", "志愿者",
    "其兄", "其弟", "其姐", "其妹", "法人代表", "网管", "船主", "摊主", "实名", "名叫",
)  # fmt: skip
#: Words that are also common given names (海洋, 立新, 天明): after a surname the rules stop
#: before such a word's second character (景立|新二人, 牟海|洋家) where a common word starts;
#: fusion reads the name on (景立新, 牟海洋).
GIVEN_NAME_WORDS = frozenset(
    "海洋 立新 天明 明月 和平 胜利 长江 光明 平安 文静 建设 国庆 红旗 向阳 春雨 秋菊 海燕 晨曦"
    " 晓光 永生 新华 东升 卫东 卫国 建国 志强 建华 建军 国强 国华 海涛 海波 立军 春生 春晖"
    " 振华 学文 金城 德才 一鸣 天佑 思远 晓东 红军 爱国 建平 伟民 志远 雪梅 玉兰 秀英"
    " 和谐 雨露 秋实 晓雨 红霞 建新 光荣 新民 振兴 春风 丰收 德胜 有才 志强".split()
)
#: Hospital and factory shifts, which jieba's dictionary lacks and case notes use like
#: names (请白班护士…, 交给夜班): no one's name.
SHIFT_WORDS = ("白班", "夜班", "早班", "中班", "晚班", "大夜", "小夜", "值班", "班组")
#: Roles in a community's records that open with a surname (联系楼长, 督促商户): no names.
PLACE_ROLES = ("楼长", "楼栋长", "单元长", "商户", "租户", "房东", "房客")
_LEAD_WORDS = (
    "姓名", "名字", "联系人", "收件人", "收货人", "寄件人", "患者", "申请人", "户主", "持卡人",
    "负责人", "经办人", "客户", "乘客", "签收人", "法定代表人", "代表人", "监护人", "投保人",
    "被保险人", "借款人", "当事人", "委托人", "车主", "业主", "住户", "司机", "户名", "取件人",
    "用户", "委托", "联系", "我是", "我叫", "本人", "被告人", "被告", "原告", "犯罪嫌疑人",
    "嫌疑人", "证人", "审判员", "书记员", "代理人", "职工", "员工", "村民", "居民", "学生",
    "同事", "同学", "顾客", "管家", "执行人", "被执行人", "申请执行人", "爸爸", "妈妈", "外公",
    "矫正对象", "服务对象", "评委",
    *ROLE_WORDS,
)  # fmt: skip
#: Words after which a name follows (姓名：张三, 联系人 李四, 我是王五, 股东赵六). Longest
#: first: where two start at one place the longer leads (护士长孙红梅: 孙红梅, not 长孙红梅).
PERSON_CONTEXT_LEAD = (
    f"(?:{'|'.join(sorted(dict.fromkeys(_LEAD_WORDS), key=len, reverse=True))}"
    f"|[{HAN}][{ROLE_SUFFIXES}]|[0-9]{{1,3}}床|[0-9]{{3,4}}房|[0-9][）)]?班|[小中大][一二三四五六]班)"
    "[: ]{0,2}(?:是|为)?"
)
#: :data:`PERSON_CONTEXT_LEAD` for Python's ``re`` only, the same matches in the same
#: order: its words as a trie behind a look-ahead (:func:`anonymize.detect.text.alternation`).
PERSON_CONTEXT_LEAD_RE = (
    f"(?:{alternation(_LEAD_WORDS)}"
    f"|[{HAN}][{ROLE_SUFFIXES}]|[0-9]{{1,3}}床|[0-9]{{3,4}}房|[0-9][）)]?班|[小中大][一二三四五六]班)"
    "[: ]{0,2}(?:是|为)?"
)
#: Context and role words, shifts and community roles: where a name is expected, these
#: words stand for no one in particular (联系车主, 请白班, 督促商户).
NOT_NAMES = frozenset((*_LEAD_WORDS, *SHIFT_WORDS, *PLACE_ROLES))
#: Verbs and particles after which a name follows in running text (已核实王霞的银行卡,
#: 我和李欣去了南京, 请转告张伟). Left out: single characters that open common words with
#: a surname-like second character (对于, 由于, 把关, 向阳, 同时, 叫车).
PERSON_VERB_LEAD = (
    "(?:核实|核对|核查|确认|通知|告知|转告|告诉|询问|回访|拜访|看望|探望|感谢|谢谢|邀请|推荐"
    "|介绍|提醒|督促|协助|帮助|陪同|接待|采访|表扬|批评|指派|安排|收到|交给|转交|转给|寄给"
    "|送给|发给|递交|移交|致电|联系|会见|约见|证明|派|让|给|被|替|跟|和|与|请)了?"
)
HONORIFIC = (
    "(?:先生|女士|小姐|同志|老师|医生|护士|律师|经理|师傅|阿姨|同学|主任|书记|局长|院长|校长"
    "|教授|警官|大爷|大妈|大姐|大哥)"
)
#: Two-character words a name is often glued to, mostly verbs with the name as subject, in
#: minutes, statements and receipts (王芳主持, 李欣记录, 张伟签收, 王春梅本人): reporting,
#: signing, paying, attending, holding. A name's last character never opens one of them with
#: the next character, and a name may end right before one (:data:`NAME_FOLLOW`; the
#: :data:`GLUED_WORD` rule finds names before them without a context word).
GLUED_WORDS = (
    "主持", "记录", "汇报", "报告", "发言", "讲话", "表示", "认为", "指出", "强调", "介绍",
    "签字", "签名", "签收", "确认", "负责", "同意", "反映", "投诉", "举报", "申请", "办理",
    "领取", "缴纳", "交来", "支付", "付款", "收款", "借款", "还款", "持股", "持有", "出资",
    "担任", "出席", "参加", "到场", "前往", "来访", "来电", "致电", "回复", "答复", "承认",
    "否认", "拒绝", "要求", "提出", "声称", "证实", "透露", "回忆", "解释", "补充", "提交",
    "递交", "登记", "入住", "居住", "涉嫌", "出生", "毕业", "就读", "退休", "离职", "入职",
    "当选", "荣获", "受伤", "住院", "就诊", "驾驶", "购买", "出售", "租赁", "承租", "携带",
    "本人", "等人",
)  # fmt: skip
GLUED_WORD = f"(?:{'|'.join(GLUED_WORDS)})"
#: What may follow a name: no Chinese, or a stop character that is no place suffix
#: (江苏 before 省 is a province, 中山 before 路 a road).
_PLACE_SUFFIXES = "省市区县州镇乡村路街号"
_GLUED_FIRST = "".join(sorted({word[0] for word in GLUED_WORDS}))
#: ... or the first character of a glued word (王芳主持), which :data:`NAME_FOLLOW` then reads.
NAME_END = (
    f"(?:[^{HAN}]|[{''.join(c for c in NAME_STOP if c not in _PLACE_SUFFIXES)}{_GLUED_FIRST}])"
)


_ONLY_AS_WORD = "".join(sorted(set(_GLUED_FIRST) - set(NAME_STOP)))
#: What the text right after a name must start with (read over :data:`FOLLOW_WIDTH`
#: characters): a character that starts no word, one of :data:`FOLLOW_WORDS`, or one of
#: :data:`GLUED_WORDS` (a glued word's first character that is no stop character ends a
#: name only as that word). The name's last character and the next one must not form a
#: glued word either (:func:`straddling_words`: in 王芳交来押金 the name is 王芳, not 王芳交).
NAME_FOLLOW = f"(?:[^{NAME_WORD_STARTS}{_ONLY_AS_WORD}]|{'|'.join((*FOLLOW_WORDS, *GLUED_WORDS))})"
#: A name that opens a run of Chinese: a whole cell, a field between separators, or
#: the subject of a clause (李军反映…, 马莉的…), ended by a non-name character. Not
#: right after a digit: 4单元 is a building unit, 3号 a number.
RUN_START = f"(?:(?s:.)[^{HAN}0-9])"
#: Surnames that open a name at the start of a run: not those that open a clause as a verb
#: or a preposition far more often (来行申请, 由其女儿, 查房记录).
_RUN_SURNAMES = "".join(c for c in SURNAMES if c not in "来由查")
#: A name at the start of a run (:data:`RUN_START`).
RUN_PERSON_NAME = f"(?:{_COMPOUND}|[{_RUN_SURNAMES}]){_GIVEN}{{1,2}}"
#: What may follow a name after a context word or a verb: anything but a place suffix (江苏 before
#: 省 is a province); what it is, is then read by :data:`NAME_FOLLOW` or as a common word.
LOOSE_NAME_END = f"[^{_PLACE_SUFFIXES}]"
#: What must follow a name read after a context word or a verb (:data:`LOOSE_NAME_END`),
#: unless a common word does: no Chinese, a stop character that opens no word (的, 于 …),
#: or one of :data:`FOLLOW_WORDS` and :data:`GLUED_WORDS`.
_ENDING_STOPS = "".join(
    c for c in NAME_STOP if c not in _PLACE_SUFFIXES and c not in NAME_WORD_STARTS
)
STRICT_NAME_FOLLOW = f"(?:[^{HAN}]|[{_ENDING_STOPS}]|{'|'.join((*FOLLOW_WORDS, *GLUED_WORDS))})"
#: Surnames that may open a name after a context word or a verb: not those that are
#: mostly a verb, a pronoun or a place word there (姑姑来接 holds no name 来接).
_LEAD_SURNAMES = "".join(c for c in SURNAMES if c not in "来那位区路")
#: A name after a context word or a verb, its given name greedy or lazy (the shortest one
#: that what follows admits).
LED_PERSON_NAME = f"(?:{_COMPOUND}|[{_LEAD_SURNAMES}]){_GIVEN}{{1,2}}"
LAZY_PERSON_NAME = f"(?:{_COMPOUND}|[{_LEAD_SURNAMES}]){_GIVEN}{{1,2}}?"
#: Words that go on a company's name, not a person's (诉被告凌云科技有限公司): where one
#: follows, the characters before it are no name.
ORG_WORDS = frozenset(
    "科技 信息 网络 传媒 贸易 实业 集团 公司 有限 电子 技术 文化 发展 投资 咨询 服务 建设 工程"
    " 商贸 物流 餐饮 置业 地产 房产 教育 医药 药业 食品 服饰 广告 装饰 软件 智能 控股 银行"
    " 酒店 超市 商店 商行 门诊 医院 诊所 学校 中心 事务 律所".split()
)
#: Where a name glued to a following word may start without a context word: after a stop
#: character or a preposition (由张伟主持, 收到王芳交来, 据李欣介绍).
GLUED_START = f"(?:(?s:.)[{NAME_STOP}由向经据])"
#: Characters that follow a name directly, where a name after a stop character may end
#: without a context word (现将李强等三人, 由王芳的同事): particles, copulas and
#: conjunctions, not verbs' particles (了, 着, 过: 把钱交了 holds no name).
STOP_END = "[等的和与及说称也就都在已于系未作是为同跟]"


def _jieba_dictionary() -> Path | None:
    """Where jieba's main dictionary lies, found without importing jieba (its import is slow)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "dict.txt"
    return path if path.is_file() else None


#: jieba tags many everyday words as names (谢谢, 明白, 阳光 …); above this
#: frequency an ``nr`` entry is taken for the word it usually is.
NAME_TAG_MAX_FREQUENCY = 1000
#: jieba's dictionary also lists rare words and place names (黄东, 苏建, 高洋, tagged ``ns``
#: with a frequency of 2 to 8) that are far more often a person's name in a record; below
#: this frequency an entry does not stop a name.
MIN_WORD_FREQUENCY = 100


@functools.cache
def _dictionary() -> tuple[tuple[str, int, str], ...]:
    """jieba's entries of 2-4 characters at least :data:`MIN_WORD_FREQUENCY` frequent, as
    ``(word, frequency, tag)``; read once per process for every word list here (empty
    without jieba)."""
    path = _jieba_dictionary()
    if path is None:
        return ()
    entries = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 3 or not 2 <= len(parts[0]) <= 4:
                continue
            frequency = int(parts[1])
            if frequency >= MIN_WORD_FREQUENCY:
                entries.append((parts[0], frequency, parts[2]))
    return tuple(entries)


@functools.cache
def common_words() -> frozenset[str]:
    """Dictionary words of 2-4 characters that begin like a name but are read as words.

    Taken from jieba's dictionary and its part-of-speech tags: every entry
    that starts with a surname, occurs at least :data:`MIN_WORD_FREQUENCY`
    times, and is either not tagged as a person name (``nr*``), such as 高中,
    文化, 江苏, 金融, or tagged so but too frequent to be one (谢谢, 明白); and the
    role words and shifts (:data:`SHIFT_WORDS`) that open with a surname. A cell or a
    captured name equal to one of these is a word, not a person. Without
    jieba installed the set is empty (more false positives, never fewer
    findings).

    Returns:
        The words, read once per process.
    """
    starts = set(SURNAMES)
    entries = _dictionary()
    if not entries:
        return frozenset()
    # Role and context words (保安, 车主 …) and shifts (白班) that open with a surname are no
    # names either, though jieba's dictionary lacks some or tags them rarely.
    extra = (w for w in NOT_NAMES if w[0] in starts)
    return frozenset(
        word
        for word, frequency, tag in entries
        if not (tag.startswith("nr") and frequency < NAME_TAG_MAX_FREQUENCY)
        and (word[0] in starts or word[:2] in COMPOUND_SURNAMES)
    ) | frozenset(extra)


@functools.cache
def function_words() -> frozenset[str]:
    """Dictionary words (2-4 characters, :data:`MIN_WORD_FREQUENCY` or more) that jieba tags
    as verbs, pronouns, adverbs, conjunctions or prepositions (来电, 申请, 那边): words
    that never stand for a person in a name's place, unlike nouns (高峰, 金融)."""
    return frozenset(word for word, _, tag in _dictionary() if tag[:1] in ("v", "r", "d", "c", "p"))


#: Two-character dictionary words at least this frequent may not straddle a name's ends.
STRADDLE_MIN_FREQUENCY = 1000
#: Two-character dictionary words at least this frequent end a name before them.
FOLLOW_MIN_FREQUENCY = 100


def _two_character_words(min_frequency: int) -> set[str]:
    """jieba's two-character entries at least ``min_frequency`` frequent (no lower than
    :data:`MIN_WORD_FREQUENCY`), not tagged as names (``nr*``); empty without jieba."""
    return {
        word
        for word, frequency, tag in _dictionary()
        if len(word) == 2 and frequency >= min_frequency and not tag.startswith("nr")
    }


@functools.cache
def straddling_words() -> frozenset[str]:
    """Two-character words that may not straddle either end of a name.

    A name's first character and the one before it, or its last character and
    the one after it, never form a common word: in 过程合作 neither 程合 nor
    合作's 合 can be a name's edge (过程 and 合作 are words), and in 王芳交来
    the name is 王芳 (交来 is a word). jieba's two-character entries at least
    :data:`STRADDLE_MIN_FREQUENCY` frequent that are not tagged as names
    (``nr*``), and the :data:`GLUED_WORDS`. Without jieba, the glued words only.

    Returns:
        The words, read once per process.
    """
    return frozenset(_two_character_words(STRADDLE_MIN_FREQUENCY) | set(GLUED_WORDS))


#: Two-character dictionary words at least this frequent that a three-character name's last
#: character may not open (彭勇常年在外 holds 彭勇; rarer words such as 英名 do not count:
#: 郑凤英名下 holds 郑凤英).
THIRD_MIN_FREQUENCY = 300


@functools.cache
def two_character_frequencies() -> dict[str, int]:
    """jieba's two-character entries at least :data:`MIN_WORD_FREQUENCY` frequent and not
    tagged as names, with their frequency (empty without jieba)."""
    return {
        word: frequency
        for word, frequency, tag in _dictionary()
        if len(word) == 2 and not tag.startswith("nr")
    }


def third_taken(closing: str, after: str) -> bool:
    """Whether a three-character name's last character and the next, ``closing``, are a
    word that takes that character from the name: a common word (at least
    :data:`THIRD_MIN_FREQUENCY`) more frequent than the two characters ``after`` the
    name (彭勇常年在外: 常年 and no word 年在, so 彭勇; 李建平反映: 反映 is the more
    frequent word, so 李建平), unless those two are a word that follows names
    (:data:`GLUED_WORDS`, :data:`FOLLOW_WORDS`: 董丹飞来电 is 董丹飞)."""
    if after in GLUED_WORDS or after in FOLLOW_WORDS:  # 董丹飞来电: 来电 follows names
        return False
    frequencies = two_character_frequencies()
    taken = frequencies.get(closing, 0)
    return taken >= THIRD_MIN_FREQUENCY and taken > frequencies.get(after, 0)


@functools.cache
def following_words() -> frozenset[str]:
    """Two-character words before which a name read after a context word may end
    (证人张伟认为, 受益人王芳账户): jieba's entries at least :data:`FOLLOW_MIN_FREQUENCY`
    frequent, not tagged as names, and the :data:`GLUED_WORDS`.

    Returns:
        The words, read once per process.
    """
    return frozenset(_two_character_words(FOLLOW_MIN_FREQUENCY) | set(GLUED_WORDS))


@functools.cache
def _frequencies() -> dict[str, int]:
    """Every entry of 2-4 characters of jieba's dictionary read here, with its frequency."""
    return {word: frequency for word, frequency, _ in _dictionary()}


def word_frequency(word: str) -> int:
    """jieba's frequency of ``word`` (0 when it is not a dictionary word of 2-4 characters
    at least :data:`MIN_WORD_FREQUENCY` frequent, or without jieba)."""
    return _frequencies().get(word, 0)
