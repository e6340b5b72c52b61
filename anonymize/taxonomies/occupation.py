"""Occupations to the eight major groups (大类) of GB/T 6565-2015.

The national occupational classification (职业分类与代码, 2015 edition,
aligned with the 2015 《中华人民共和国职业分类大典》) sorts every occupation
under eight major groups; the common words of registers and surveys are
placed here by the work they name (教师 and 会计 are professionals, 2; a 司机
and a 快递员 serve transport and post, 4-02; 保安 is security, 3-02).
Two placements follow convention rather than the words: 个体户 (self-employed)
goes to group 4, where most of them trade or serve, and 公务员 to group 3
(an official who heads an organ is group 1, but the word does not say so).

Values that name no occupation (学生, 退休, 无业, 家务) are not in the
classification, which covers persons in work; they form a ninth label,
``非从业人员`` (not in work), so a register's whole column has a middle
level. A value outside the table is grouped by frequency by the caller.

References:
    GB/T 6565-2015, 职业分类与代码 (Classification and codes of occupations).
"""

from __future__ import annotations

from anonymize.taxonomies.base import Taxonomy

__all__ = ["MAJOR_GROUPS", "NOT_IN_WORK", "OCCUPATION"]

#: The major groups of GB/T 6565-2015, by code.
MAJOR_GROUPS: dict[int, str] = {
    1: "党的机关、国家机关、群众团体和社会组织、企事业单位负责人",
    2: "专业技术人员",
    3: "办事人员和有关人员",
    4: "社会生产服务和生活服务人员",
    5: "农、林、牧、渔业生产及辅助人员",
    6: "生产制造及有关人员",
    7: "军人",
    8: "不便分类的其他从业人员",
}
#: Not an occupation: students, the retired, the unemployed, homemakers.
NOT_IN_WORK = "非从业人员"

_BY_GROUP: dict[int, tuple[str, ...]] = {
    1: ("负责人", "企业负责人", "单位负责人", "企业主", "私营企业主", "经理", "总经理",
        "厂长", "董事长", "领导干部", "机关负责人", "党政干部", "村干部", "企业管理者",
        "管理者", "高管"),
    2: ("教师", "老师", "教授", "讲师", "医生", "医师", "护士", "药剂师", "药师",
        "工程师", "技术员", "程序员", "软件工程师", "设计师", "建筑师", "会计",
        "会计师", "审计师", "经济师", "律师", "法官", "检察官", "记者", "编辑",
        "翻译", "科研人员", "研究员", "专业技术人员", "金融", "演员", "运动员", "教练"),
    3: ("公务员", "办事员", "文员", "秘书", "行政", "行政人员", "职员", "办公室职员",
        "保安", "保安员", "警察", "民警", "消防员", "办事人员"),
    4: ("销售", "销售员", "营业员", "售货员", "收银员", "快递员", "快递", "外卖员",
        "骑手", "司机", "出租车司机", "驾驶员", "厨师", "服务员", "服务业", "餐饮",
        "保洁", "保洁员", "家政", "保姆", "育婴员", "护工", "美发师", "理发师", "导游",
        "物业", "中介", "房产中介", "保险代理人", "银行柜员", "客服", "环卫工人",
        "个体户", "个体经营", "个体工商户", "商人", "仓库管理员"),
    5: ("农民", "务农", "农业", "渔民", "牧民", "养殖户", "果农", "菜农", "林业工人"),
    6: ("工人", "产业工人", "技工", "普工", "操作工", "车工", "钳工", "焊工", "电工",
        "木工", "瓦工", "装配工", "建筑工人", "纺织工", "流水线工人"),
    7: ("军人", "现役军人", "士兵", "军官"),
    8: ("其他", "其他从业人员", "自由职业", "自由职业者"),
}  # fmt: skip
_NOT_IN_WORK = ("学生", "在校学生", "退休", "离退休", "离休", "退休人员", "无业",
                "失业", "待业", "无工作", "家务", "家庭主妇", "全职太太")  # fmt: skip


def _paths() -> dict[str, tuple[str, ...]]:
    paths: dict[str, tuple[str, ...]] = {
        value: (MAJOR_GROUPS[g],) for g, values in _BY_GROUP.items() for value in values
    }
    return paths | {value: (NOT_IN_WORK,) for value in _NOT_IN_WORK}


#: Occupations to their GB/T 6565-2015 major group (or 非从业人员).
OCCUPATION = Taxonomy(
    name="occupation_major_groups",
    levels=("major_group",),
    paths=_paths(),
    hint=r"occupation|job|profession|职业|工种|岗位",
    standard="GB/T 6565-2015",
)
