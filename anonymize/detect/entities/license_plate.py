"""Vehicle licence plates (GA 36-2018): province character, issuing-office
letter, optional separator, five letters or digits; new-energy plates have six
(D or F first for small cars, last for large ones).
"""

from __future__ import annotations

from anonymize.detect.entity import EntityDefinition, Rule
from anonymize.detect.text import ALONE_AFTER, ANY2

NAME = "CN_LICENSE_PLATE"

_ALNUM = "[A-HJ-NP-Z0-9]"
PATTERN = (
    "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·・ -]?"
    f"(?:[DF]{_ALNUM}[0-9]{{4}}|[0-9]{{5}}[DF]|{_ALNUM}{{4}}[{_ALNUM[1:-1]}学警港澳挂领])"
)
#: A plate's office letter: an ASCII class is far cheaper to search for than a Han one.
_UPPER = "[A-HJ-NP-Z]"

LICENSE_PLATE = EntityDefinition(
    name=NAME,
    rules=(Rule(NAME, PATTERN, ANY2, ALONE_AFTER, score=0.6, requires=_UPPER),),
    context=("车牌", "号牌", "车辆", "plate"),
    examples=(
        ("苏A12345", "苏A12345"),  # ordinary plate
        ("车牌苏A·12345", "苏A·12345"),  # with a middle dot
        ("苏AD12345", "苏AD12345"),  # new-energy small car
        ("粤B12345D", "粤B12345D"),  # new-energy large vehicle
        ("京A1234学", "京A1234学"),  # driving-school car
    ),
    counter_examples=(
        "苏A1234",  # too short
        "苏I12345",  # I is no office letter
    ),
)
