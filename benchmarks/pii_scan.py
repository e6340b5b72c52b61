"""PII scan speed: the vectorized path vs Presidio's per-cell AnalyzerEngine, same run.

    python benchmarks/pii_scan.py [--rows N] [--sample S] [--seed K] [--repeat R]

Builds a table of six Chinese columns (name, resident ID, phone, e-mail,
address, free-text note) with numpy / polars templates (no per-row Faker),
with the ground truth of every span. Scans the whole table with
:func:`anonymize.vector.scan_table` and the first ``S`` rows cell by cell with
:func:`anonymize.analyzer.analyze_text` (Presidio), then prints rows/s of
both (best and median of R runs), their ratio, per-entity recall and
precision of both on the sample (exact spans), the vector path's on the whole
table, and memory (peak RSS during the vector scan).
Notes mix the entities with hard negatives (order and tracking numbers,
amounts, dates, hotlines) that must not be found.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import polars as pl

from anonymize.detect._names import NAME_STOP
from anonymize.detect.entities import Entity

SURNAMES = [
    *"王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘",
    *"蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范石廖贾夏韦方白邹孟熊秦邱江尹薛",
    *"段雷侯龙史陶贺顾毛郝龚邵",
    "欧阳",
    "司马",
    "诸葛",
    "上官",
]
GIVEN = [
    c
    for c in "秀桂英梅华兰玉建丽红珍淑芳丹婷凤荣强军平霞娟燕雪云伟磊洋勇杰涛超明刚"
    "辉鹏飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳亮成峰国晨瑞志兵雷东博彬坤岩杨文利楠娜"
    "敏静艳玲萍莉晶颖慧倩琴畅洁柳春海冬莹琳欣香芝小金瑜花璐"
    if c not in NAME_STOP
]
PROVINCES = "江苏省 浙江省 广东省 山东省 四川省 湖北省 河南省 北京市 上海市".split()
CITIES = "南京市 苏州市 杭州市 广州市 济南市 成都市 武汉市 郑州市 无锡市".split()
DISTRICTS = "鼓楼区 玄武区 姑苏区 西湖区 天河区 历下区 武侯区 江宁区 海淀区".split()
ROADS = ["中山路", "人民南路", "解放北路", "学府路", "建设大道", "和平街", "青年中路", "长江路"]
ESTATES = ["", "", "翠屏山庄", "阳光花园", "银城东苑"]
ID_REGIONS = ["110105", "320102", "320584", "330106", "440106", "510107", "370102", "420106"]
MOBILE = [
    "130",
    "131",
    "135",
    "136",
    "138",
    "139",
    "150",
    "152",
    "158",
    "166",
    "177",
    "180",
    "186",
    "188",
    "191",
    "199",
]
SYLLABLES = ["zhang", "wei", "li", "na", "wang", "fang", "liu", "yang", "chen", "jing", "xiao"]
DOMAINS = ["163.com", "qq.com", "126.com", "sina.com", "gmail.com", "foxmail.com"]
PLATE_CHARS = list("苏浙沪京粤鲁川鄂豫")
ALNUM = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class Maker:
    """Vectorized random values: every method returns one string Series of length ``n``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def pick(self, pool: list[str], n: int) -> pl.Series:
        return pl.Series(pool, dtype=pl.String).gather(self.rng.integers(0, len(pool), n))

    def digits(self, n: int, k: int) -> np.ndarray:
        return self.rng.integers(0, 10, (n, k))

    @staticmethod
    def text(indices: np.ndarray, alphabet: str = "0123456789") -> pl.Series:
        """Rows of a 2-D array of indices into ``alphabet``, joined into strings."""
        chars = pl.Series(list(alphabet), dtype=pl.String)
        columns = [chars.gather(indices[:, i]) for i in range(indices.shape[1])]
        return pl.DataFrame(columns).select(pl.concat_str(pl.all())).to_series()

    @staticmethod
    def split(numbers: np.ndarray, width: int) -> np.ndarray:
        """Integers as ``width`` digit columns (most significant first)."""
        powers = 10 ** np.arange(width - 1, -1, -1)
        return (numbers[:, None] // powers) % 10

    def name(self, n: int) -> pl.Series:
        two = self.rng.random(n) < 0.7
        given2 = self.pick(GIVEN, n).zip_with(pl.Series(two), pl.Series([""] * n))
        return self.pick(SURNAMES, n) + self.pick(GIVEN, n) + given2

    def resident_id(self, n: int) -> pl.Series:
        """GB 11643: region, birth date 1940-2010, sequence, MOD 11-2 check character."""
        first, last = np.datetime64("1940-01-01"), np.datetime64("2010-12-31")
        born = pl.Series(first + self.rng.integers(0, (last - first).astype(int), n))
        parts = [born.dt.year(), born.dt.month(), born.dt.day()]
        year, month, day = (p.cast(pl.Int64) for p in parts)
        date = year * 10_000 + month * 100 + day
        region = np.asarray(ID_REGIONS, dtype=np.int64)[self.rng.integers(0, len(ID_REGIONS), n)]
        body = np.hstack([self.split(region, 6), self.split(date.to_numpy(), 8), self.digits(n, 3)])
        weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
        # "10X98765432"[sum mod 11], as indices into the alphabet 0-9X
        check = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2])[(body * weights).sum(axis=1) % 11]
        return self.text(np.hstack([body, check[:, None]]), "0123456789X")

    def mobile(self, n: int) -> pl.Series:
        number = self.pick(MOBILE, n) + self.text(self.digits(n, 8))
        form = self.rng.integers(0, 10, n)
        dashed = number.str.slice(0, 3) + "-" + number.str.slice(3, 4) + "-" + number.str.slice(7)
        return (
            pl.DataFrame({"n": number, "f": form, "d": dashed})
            .select(
                pl.when(pl.col("f") == 0)
                .then("+86 " + pl.col("n"))
                .when(pl.col("f") == 1)
                .then(pl.col("d"))
                .otherwise(pl.col("n"))
            )
            .to_series()
        )

    def email(self, n: int) -> pl.Series:
        sep = self.pick(["", ".", "_"], n)
        number = self.text(self.digits(n, 3)).zip_with(
            pl.Series(self.rng.random(n) < 0.5), pl.Series([""] * n)
        )
        return (
            self.pick(SYLLABLES, n)
            + sep
            + self.pick(SYLLABLES, n)
            + number
            + "@"
            + self.pick(DOMAINS, n)
        )

    def address(self, n: int) -> pl.Series:
        unit = (
            pl.Series(self.rng.integers(1, 30, n)).cast(pl.String)
            + "栋"
            + pl.Series(self.rng.integers(1, 6, n)).cast(pl.String)
            + "单元"
            + pl.Series(self.rng.integers(101, 2999, n)).cast(pl.String)
            + "室"
        )
        unit = unit.zip_with(pl.Series(self.rng.random(n) < 0.5), pl.Series([""] * n))
        return (
            self.pick(PROVINCES, n)
            + self.pick(CITIES, n)
            + self.pick(DISTRICTS, n)
            + self.pick(ROADS, n)
            + pl.Series(self.rng.integers(1, 999, n)).cast(pl.String)
            + "号"
            + self.pick(ESTATES, n)
            + unit
        )

    def bank_card(self, n: int) -> pl.Series:
        """UnionPay 16 or 19 digits with a Luhn check digit."""
        body = np.hstack([np.tile([6, 2, 2, 2], (n, 1)), self.digits(n, 14)])
        long = self.rng.random(n) < 0.5
        total = np.zeros(n, dtype=int)
        for length, rows in ((18, long), (15, ~long)):  # payload lengths before the check digit
            payload = body[rows, :length]
            doubled = payload[:, ::-1].copy()
            doubled[:, ::2] *= 2
            doubled[doubled > 9] -= 9
            total[rows] = doubled.sum(axis=1)
        check = (10 - total % 10) % 10
        text = self.text(body)
        return text.str.slice(0, 18).zip_with(pl.Series(long), text.str.slice(0, 15)) + pl.Series(
            check
        ).cast(pl.String)

    def uscc(self, n: int) -> pl.Series:
        """GB 32100: 91, a region, a 9-character organisation code, MOD 31 check character."""
        region = np.asarray(ID_REGIONS, dtype=np.int64)[self.rng.integers(0, len(ID_REGIONS), n)]
        org = self.rng.integers(0, 31, (n, 9))
        values = np.hstack([np.tile([9, 1], (n, 1)), self.split(region, 6), org])
        weights = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
        check = (31 - (values * weights).sum(axis=1) % 31) % 31
        return self.text(np.hstack([values, check[:, None]]), USCC_ALPHABET)

    def plate(self, n: int) -> pl.Series:
        tail = self.pick(ALNUM, n)
        for _ in range(4):
            tail = tail + self.pick(ALNUM, n)
        return self.pick(PLATE_CHARS, n) + self.pick(list("ABCDEF"), n) + tail

    def passport(self, n: int) -> pl.Series:
        return "E" + self.text(self.digits(n, 8))

    def order(self, n: int) -> pl.Series:
        return "2025" + self.text(self.digits(n, 14))

    def tracking(self, n: int) -> pl.Series:
        return self.text(self.digits(n, 13))

    def amount(self, n: int) -> pl.Series:
        return (
            self.pick(MOBILE, n) + self.text(self.digits(n, 8)) + "." + self.text(self.digits(n, 2))
        )

    def hotline(self, n: int) -> pl.Series:
        return "400-" + self.text(self.digits(n, 3)) + "-" + self.text(self.digits(n, 4))

    def date(self, n: int) -> pl.Series:
        return (
            "2024-"
            + pl.Series(self.rng.integers(10, 13, n)).cast(pl.String)
            + "-1"
            + (pl.Series(self.rng.integers(0, 10, n)).cast(pl.String))
        )


#: Note templates: literal text and (maker, entity or None for a hard negative).
Piece = str | tuple[Callable[[Maker, int], pl.Series], str | None]
TEMPLATES: list[list[Piece]] = [
    [
        "客户",
        (Maker.name, "PERSON"),
        "来电咨询退款，联系电话",
        (Maker.mobile, "PHONE_NUMBER"),
        "，订单号",
        (Maker.order, None),
        "。",
    ],
    [
        "已核实身份证",
        (Maker.resident_id, "CN_RESIDENT_ID"),
        "，银行卡号",
        (Maker.bank_card, "BANK_CARD"),
        "，金额",
        (Maker.amount, None),
        "元。",
    ],
    [
        "快递寄往",
        (Maker.address, "CN_ADDRESS"),
        "，收件人",
        (Maker.name, "PERSON"),
        "，运单号SF",
        (Maker.tracking, None),
        "。",
    ],
    [
        "车牌",
        (Maker.plate, "CN_LICENSE_PLATE"),
        "于",
        (Maker.date, None),
        "违停，客服热线",
        (Maker.hotline, None),
        "。",
    ],
    ["邮件已发送至", (Maker.email, "EMAIL_ADDRESS"), "，请于", (Maker.date, None), "前回复。"],
    ["护照号码", (Maker.passport, "CN_PASSPORT"), "，签发日期", (Maker.date, None), "。"],
    ["本次会议讨论了下季度的预算安排，未涉及个人信息。"],
    ["统一社会信用代码", (Maker.uscc, "CN_USCC"), "，法定代表人", (Maker.name, "PERSON")],
    [(Maker.name, "PERSON"), "女士反映小区噪音问题，已转物业处理。"],
]


def make_table(rows: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The six-column table and its ground truth (row, column, entity, start, end)."""
    maker = Maker(seed)
    columns = {
        "name": (Maker.name, "PERSON"),
        "id": (Maker.resident_id, "CN_RESIDENT_ID"),
        "phone": (Maker.mobile, "PHONE_NUMBER"),
        "email": (Maker.email, "EMAIL_ADDRESS"),
        "address": (Maker.address, "CN_ADDRESS"),
    }
    data = {c: make(maker, rows) for c, (make, _) in columns.items()}
    truth = [
        pl.DataFrame(
            {
                "row": np.arange(rows),
                "column": c,
                "entity": e,
                "start": 0,
                "end": data[c].str.len_chars(),
            }
        )
        for c, (_, e) in columns.items()
    ]
    template = maker.rng.integers(0, len(TEMPLATES), rows)
    notes = []
    for t, pieces in enumerate(TEMPLATES):
        index = np.flatnonzero(template == t)
        text, offset = pl.Series([""] * len(index)), pl.Series(np.zeros(len(index), dtype=int))
        for piece in pieces:
            value = (
                pl.Series([piece] * len(index))
                if isinstance(piece, str)
                else piece[0](maker, len(index))
            )
            if not isinstance(piece, str) and piece[1] is not None:
                truth.append(
                    pl.DataFrame(
                        {
                            "row": index,
                            "column": "note",
                            "entity": piece[1],
                            "start": offset,
                            "end": offset + value.str.len_chars(),
                        }
                    )
                )
            text, offset = text + value, offset + value.str.len_chars()
        notes.append(pl.DataFrame({"row": index, "note": text}))
    data["note"] = pl.concat(notes).sort("row")["note"]
    schema = {
        "row": pl.Int64,
        "column": pl.String,
        "entity": pl.String,
        "start": pl.Int64,
        "end": pl.Int64,
    }
    return pl.DataFrame(data), pl.concat([t.cast(schema) for t in truth])  # type: ignore[arg-type]


def accuracy(found: pl.DataFrame, truth: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Per-entity (recall, precision) on exact spans."""
    keys = ["row", "column", "entity", "start", "end"]
    hits = found.select(keys).join(truth, on=keys, how="semi")
    out = {}
    for entity in Entity:
        support = truth.filter(pl.col("entity") == entity).height
        predicted = found.filter(pl.col("entity") == entity).height
        tp = hits.filter(pl.col("entity") == entity).height
        out[entity.value] = (
            tp / support if support else float("nan"),
            tp / predicted if predicted else float("nan"),
        )
    return out


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """The process's resident set size now."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best and median wall time of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path")
    args = parser.parse_args()

    from anonymize.detect.analyzer import analyze_text, engine
    from anonymize.detect.vector import scan_table

    start = time.perf_counter()
    table, truth = make_table(args.rows, args.seed)
    print(
        f"table: {args.rows:,} rows x {table.width} columns, {truth.height:,} labelled spans,"
        f" built in {time.perf_counter() - start:.1f} s"
    )
    scan_table(table.head(100))  # warm-up: regex compilation, word lists
    engine()  # warm-up: Presidio and spaCy load once
    resident = current_rss_mb()

    tracemalloc.start()
    vector_s, vector_median, found = timed(lambda: scan_table(table), args.repeat)
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = peak_rss_mb()
    assert isinstance(found, pl.DataFrame)

    sample = table.head(args.sample)

    def presidio_scan() -> list[dict[str, object]]:
        return [
            {"row": row, "column": column, "entity": s.entity, "start": s.start, "end": s.end}
            for column in sample.columns
            for row, text in enumerate(sample[column].to_list())
            for s in analyze_text(text)
        ]

    presidio_s, presidio_median, presidio = timed(presidio_scan, args.repeat)
    assert isinstance(presidio, list)

    vector_rate, presidio_rate = args.rows / vector_s, args.sample / presidio_s
    print(
        f"vector   scan_table  : {args.rows:>9,} rows, best {vector_s:6.2f} s (median "
        f"{vector_median:6.2f} s) = {vector_rate:>9,.0f} rows/s ({found.height:,} findings)"
    )
    print(
        f"presidio analyze_text: {args.sample:>9,} rows, best {presidio_s:6.2f} s (median "
        f"{presidio_median:6.2f} s) = {presidio_rate:>9,.0f} rows/s (6 calls per row)"
    )
    print(
        f"ratio vector / presidio: {vector_rate / presidio_rate:,.0f}x best, "
        f"{(args.rows / vector_median) / (args.sample / presidio_median):,.0f}x median "
        f"(target >= 300x; {pl.thread_pool_size()} polars threads)"
    )
    print(
        f"memory: RSS {resident:,.0f} MB with the table and both engines loaded, peak "
        f"{peak:,.0f} MB during the vector scan (+{peak - resident:,.0f} MB); Python heap "
        f"peak {python_peak:,.0f} MB (tracemalloc; polars allocates outside it)"
    )

    in_sample = pl.col("row") < args.sample
    schema = {
        "row": pl.Int64,
        "column": pl.String,
        "entity": pl.String,
        "start": pl.Int64,
        "end": pl.Int64,
    }
    results = {
        "vector (sample)": accuracy(found.filter(in_sample), truth.filter(in_sample)),
        "presidio (sample)": accuracy(
            pl.DataFrame(presidio, schema=schema), truth.filter(in_sample)
        ),
        "vector (all rows)": accuracy(found, truth),
    }
    print("\n| entity | " + " | ".join(f"{k} R / P" for k in results) + " |")
    print("|---|" + "--:|" * len(results))
    for entity in Entity:
        cells = [f"{r:.4f} / {p:.4f}" for r, p in (v[entity.value] for v in results.values())]
        print(f"| {entity.value} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
