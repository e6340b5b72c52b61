"""Administrative divisions: Jiangsu's cities and counties, cities of nearby provinces.

Jiangsu's planning splits the province in three economic regions along the
Yangtze and the old Huai course, which statistics yearbooks of the province
tabulate: 苏南 (南京 无锡 常州 苏州 镇江), 苏中 (南通 扬州 泰州) and 苏北 (徐州
连云港 淮安 盐城 宿迁). A Jiangsu city therefore rises city → region →
province; a city of another province rises city → province → province (its
region level is its province, so the levels nest for every city).

County-level divisions (districts, counties, county-level cities) follow
GB/T 2260 as published by the Ministry of Civil Affairs (2023 list: 95
divisions, 55 districts, 21 county-level cities, 19 counties); each rises
county → city → region → province. A county may be written alone (玄武区) or
after its city (南京市玄武区, 南京玄武区); a county-level city also without
its 市 (江阴). One name belongs to two cities (鼓楼区 of 南京 and of 徐州): on
its own it rises straight to the level the two share (江苏省); written after
its city it keeps its city.

Other provinces: the prefecture-level cities of Jiangsu's neighbours
(上海, 浙江, 安徽, 山东), the four municipalities and every provincial capital
(plus 深圳, 厦门, 大连), enough for a Jiangsu register's places of origin; a
column of cities from all over China falls back to frequency grouping.

References:
    GB/T 2260-2007, Codes for the administrative divisions of the People's
    Republic of China, with the ministry's yearly updates (2023).
    《江苏省国民经济和社会发展统计公报》: 苏南、苏中、苏北 regional tables.
"""

from __future__ import annotations

from anonymize.taxonomies.base import Taxonomy

__all__ = ["CITIES", "DISTRICTS", "JIANGSU", "JIANGSU_COUNTIES", "REGIONS"]

JIANGSU = "江苏省"

#: Jiangsu's three regions and their prefecture-level cities.
REGIONS: dict[str, tuple[str, ...]] = {
    "苏南": ("南京市", "无锡市", "常州市", "苏州市", "镇江市"),
    "苏中": ("南通市", "扬州市", "泰州市"),
    "苏北": ("徐州市", "连云港市", "淮安市", "盐城市", "宿迁市"),
}

#: Jiangsu's county-level divisions by city: GB/T 2260 code and name.
JIANGSU_COUNTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "南京市": (("320102", "玄武区"), ("320104", "秦淮区"), ("320105", "建邺区"),
              ("320106", "鼓楼区"), ("320111", "浦口区"), ("320113", "栖霞区"),
              ("320114", "雨花台区"), ("320115", "江宁区"), ("320116", "六合区"),
              ("320117", "溧水区"), ("320118", "高淳区")),
    "无锡市": (("320205", "锡山区"), ("320206", "惠山区"), ("320211", "滨湖区"),
              ("320213", "梁溪区"), ("320214", "新吴区"), ("320281", "江阴市"),
              ("320282", "宜兴市")),
    "徐州市": (("320302", "鼓楼区"), ("320303", "云龙区"), ("320305", "贾汪区"),
              ("320311", "泉山区"), ("320312", "铜山区"), ("320321", "丰县"),
              ("320322", "沛县"), ("320324", "睢宁县"), ("320381", "新沂市"),
              ("320382", "邳州市")),
    "常州市": (("320402", "天宁区"), ("320404", "钟楼区"), ("320411", "新北区"),
              ("320412", "武进区"), ("320413", "金坛区"), ("320481", "溧阳市")),
    "苏州市": (("320505", "虎丘区"), ("320506", "吴中区"), ("320507", "相城区"),
              ("320508", "姑苏区"), ("320509", "吴江区"), ("320581", "常熟市"),
              ("320582", "张家港市"), ("320583", "昆山市"), ("320585", "太仓市")),
    "南通市": (("320612", "通州区"), ("320613", "崇川区"), ("320614", "海门区"),
              ("320623", "如东县"), ("320681", "启东市"), ("320682", "如皋市"),
              ("320685", "海安市")),
    "连云港市": (("320703", "连云区"), ("320706", "海州区"), ("320707", "赣榆区"),
               ("320722", "东海县"), ("320723", "灌云县"), ("320724", "灌南县")),
    "淮安市": (("320803", "淮安区"), ("320804", "淮阴区"), ("320812", "清江浦区"),
              ("320813", "洪泽区"), ("320826", "涟水县"), ("320830", "盱眙县"),
              ("320831", "金湖县")),
    "盐城市": (("320902", "亭湖区"), ("320903", "盐都区"), ("320904", "大丰区"),
              ("320921", "响水县"), ("320922", "滨海县"), ("320923", "阜宁县"),
              ("320924", "射阳县"), ("320925", "建湖县"), ("320981", "东台市")),
    "扬州市": (("321002", "广陵区"), ("321003", "邗江区"), ("321012", "江都区"),
              ("321023", "宝应县"), ("321081", "仪征市"), ("321084", "高邮市")),
    "镇江市": (("321102", "京口区"), ("321111", "润州区"), ("321112", "丹徒区"),
              ("321181", "丹阳市"), ("321182", "扬中市"), ("321183", "句容市")),
    "泰州市": (("321202", "海陵区"), ("321203", "高港区"), ("321204", "姜堰区"),
              ("321281", "兴化市"), ("321282", "靖江市"), ("321283", "泰兴市")),
    "宿迁市": (("321302", "宿城区"), ("321311", "宿豫区"), ("321322", "沭阳县"),
              ("321323", "泗阳县"), ("321324", "泗洪县")),
}  # fmt: skip

#: Prefecture-level cities of other provinces (neighbours in full, elsewhere the capital).
OTHER_CITIES: dict[str, tuple[str, ...]] = {
    "上海市": ("上海市",),
    "北京市": ("北京市",),
    "天津市": ("天津市",),
    "重庆市": ("重庆市",),
    "浙江省": ("杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市",
              "衢州市", "舟山市", "台州市", "丽水市"),
    "安徽省": ("合肥市", "芜湖市", "蚌埠市", "淮南市", "马鞍山市", "淮北市", "铜陵市",
              "安庆市", "黄山市", "滁州市", "阜阳市", "宿州市", "六安市", "亳州市",
              "池州市", "宣城市"),
    "山东省": ("济南市", "青岛市", "淄博市", "枣庄市", "东营市", "烟台市", "潍坊市",
              "济宁市", "泰安市", "威海市", "日照市", "临沂市", "德州市", "聊城市",
              "滨州市", "菏泽市"),
    "河北省": ("石家庄市",),
    "山西省": ("太原市",),
    "内蒙古自治区": ("呼和浩特市",),
    "辽宁省": ("沈阳市", "大连市"),
    "吉林省": ("长春市",),
    "黑龙江省": ("哈尔滨市",),
    "福建省": ("福州市", "厦门市"),
    "江西省": ("南昌市",),
    "河南省": ("郑州市",),
    "湖北省": ("武汉市",),
    "湖南省": ("长沙市",),
    "广东省": ("广州市", "深圳市"),
    "广西壮族自治区": ("南宁市",),
    "海南省": ("海口市",),
    "四川省": ("成都市",),
    "贵州省": ("贵阳市",),
    "云南省": ("昆明市",),
    "西藏自治区": ("拉萨市",),
    "陕西省": ("西安市",),
    "甘肃省": ("兰州市",),
    "青海省": ("西宁市",),
    "宁夏回族自治区": ("银川市",),
    "新疆维吾尔自治区": ("乌鲁木齐市",),
}  # fmt: skip


def _bare(name: str) -> str:
    """``南京市`` → ``南京``: the way a city is often written."""
    return name.removesuffix("市")


def _city_paths() -> dict[str, tuple[str, ...]]:
    paths: dict[str, tuple[str, ...]] = {}
    for region, cities in REGIONS.items():
        for city in cities:
            paths[city] = paths[_bare(city)] = (region, JIANGSU)
    for province, cities in OTHER_CITIES.items():
        for city in cities:
            paths[city] = paths[_bare(city)] = (province, province)
    return paths


def _county_paths() -> dict[str, tuple[str, ...]]:
    region_of = {city: region for region, cities in REGIONS.items() for city in cities}
    cities_of: dict[str, set[str]] = {}
    paths: dict[str, tuple[str, ...]] = {}
    for city, counties in JIANGSU_COUNTIES.items():
        above = (city, region_of[city], JIANGSU)
        for _, county in counties:
            cities_of.setdefault(county, set()).add(city)
            paths[city + county] = paths[_bare(city) + county] = above
            if county.endswith("市"):
                paths[_bare(county)] = above
    for county, cities in cities_of.items():
        if len(cities) == 1:
            paths[county] = paths[next(iter(cities)) + county]
        else:  # 鼓楼区: its cities lie in different regions, so it rises to the province
            paths[county] = (JIANGSU, JIANGSU, JIANGSU)
    return paths


#: Cities: Jiangsu's to 苏南 / 苏中 / 苏北 then 江苏省; the others' to their province.
CITIES = Taxonomy(
    name="cities",
    levels=("region", "province"),
    paths=_city_paths(),
    hint=r"city|城市|地市|市$",
    standard="GB/T 2260; Jiangsu's regions 苏南 / 苏中 / 苏北",
)

#: Jiangsu's districts and counties: to their city, region and 江苏省.
DISTRICTS = Taxonomy(
    name="jiangsu_counties",
    levels=("city", "region", "province"),
    paths=_county_paths(),
    hint=r"district|county|区县|县区|区$|县$",
    standard="GB/T 2260 (2023), Jiangsu",
)
