"""Education levels to the stage of schooling they complete.

China's school system has three stages that statistics report on: the
nine years of compulsory education (小学, 初中; 义务教育法 art. 2), the upper
secondary stage, general or vocational (高中, 中专, 职高, 技校), and higher
education (大专 and above; 高等教育法 art. 16). Census tables add "never
attended school" below the first stage; it joins compulsory education here
as ``义务教育及以下`` (compulsory or less), so that every value has a stage.

The values are the usual wordings of registers and surveys (census
categories, 学历 fields, with and without 及以上 / 毕业); a value outside
the table is grouped by frequency by the caller.

References:
    《中华人民共和国义务教育法》 art. 2; 《中华人民共和国高等教育法》 art. 16.
    国家统计局, 第七次全国人口普查 长表 (受教育程度: 未上过学, 学前教育, 小学,
    初中, 高中, 大学专科, 大学本科, 硕士研究生, 博士研究生).
"""

from __future__ import annotations

from anonymize.taxonomies.base import Taxonomy

__all__ = ["COMPULSORY", "EDUCATION", "HIGHER", "SECONDARY"]

COMPULSORY = "义务教育及以下"
SECONDARY = "高中阶段"
HIGHER = "高等教育"

_STAGES: dict[str, tuple[str, ...]] = {
    COMPULSORY: (
        "文盲", "半文盲", "未上学", "未上过学", "没上过学", "未受教育", "学前教育", "扫盲班",
        "小学", "小学毕业", "小学及以下", "初中", "初中毕业", "初中及以下", "初级中学",
    ),
    SECONDARY: (
        "高中", "高中毕业", "普通高中", "高级中学", "中专", "中等专业学校", "职高",
        "职业高中", "技校", "技工学校", "中技", "中职", "中等职业教育", "高中/中专",
        "高中及中专", "高中/中专/技校",
    ),
    HIGHER: (
        "大专", "专科", "大学专科", "高职", "高职高专", "大专及以上", "本科", "大学本科",
        "大学", "本科及以上", "学士", "研究生", "研究生及以上", "硕士", "硕士研究生",
        "博士", "博士研究生", "博士后",
    ),
}  # fmt: skip

#: Education levels to 义务教育及以下 / 高中阶段 / 高等教育.
EDUCATION = Taxonomy(
    name="education_stages",
    levels=("stage",),
    paths={value: (stage,) for stage, values in _STAGES.items() for value in values},
    hint=r"edu|学历|文化程度|受教育程度|教育程度",
    standard="义务教育法 art. 2, 高等教育法 art. 16 (school stages)",
)
