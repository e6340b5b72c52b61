"""PII scan speed: rules alone, rules + the trained tagger, and Presidio, same run.

    python benchmarks/pii_scan.py [--rows N] [--sample S] [--seed K] [--repeat R]
                                  [--tagger-rows T] [--notes M] [--presidio-notes P]

Table: builds a table of six Chinese columns (name, resident ID, phone,
e-mail, address, free-text note) with numpy / polars templates (no per-row
Faker), with the ground truth of every span. Scans the whole table with the
rules alone (:func:`anonymize.detect.vector.scan_table` with ``fuse=False``),
classify first (``classify=True``) and with every rule on every cell (the default,
``classify=False``), and says whether both found the same; then the first
``S`` rows cell by cell with :func:`anonymize.detect.analyzer.analyze_text`
(Presidio, ``fuse=False``) and with ``presidio-structured``, Presidio's own
column-sampling scanner (:func:`structured_speed`), and prints rows/s of each
(best and median of R runs), the ratios, memory (peak RSS during the vector
scan) and the load average. The tagger reads about a thousand
free-text cells a second, so rules + tagger (``fuse=True``) run on the first
``T`` rows only (and Presidio + tagger on the first ``S``); the output says
so. Per-entity recall and precision (exact spans) of every configuration
close the section. Notes mix the entities with hard negatives (order and
tracking numbers, amounts, dates, hotlines) that must not be found.

Notes: ``M`` distinct free-text notes of about 165 characters, held-out
corpus notes (:mod:`tests.corpus`, every notes set) joined until 150
characters, scanned as a one-column table with the rules alone, through the
tagger stage alone (:func:`anonymize.detect.fusion.fuse_texts` on the rules'
findings, after a warm-up; the model load is timed apart), the same stage
without the span head (``Tagger(head=False)``), rules + tagger
end to end, and Presidio on the first ``P`` notes, one call a note, without
and with the tagger. Prints notes/s and the target of issue 17: the tagger
stage reads at least 1,000 notes/s on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the `tests` package

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


@dataclass(frozen=True, slots=True)
class Structured:
    """presidio-structured on the sample: wall times (best, median) and their two steps."""

    best: float
    median: float
    analysis: float
    anonymize: float
    mapping: dict[str, str]


def structured_speed(sample: pl.DataFrame, repeat: int) -> Structured:
    """presidio-structured's own column-sampling scan of ``sample``, timed.

    ``PandasAnalysisBuilder`` reads every row of the sample with our Presidio
    engine (the recognizers of ``analyze_text``) and names one entity per
    column (most common); ``StructuredEngine`` then replaces every cell of
    those columns. The two steps are timed apart: on a table much longer than
    its sample, the replacement is what each row costs.
    """
    from presidio_anonymizer.entities import OperatorConfig
    from presidio_structured import PandasAnalysisBuilder, StructuredEngine
    from presidio_structured.data.data_processors import PandasDataProcessor

    from anonymize.detect.analyzer import engine
    from anonymize.detect.recognizer import LANGUAGE

    original = sample.to_pandas()
    structured = StructuredEngine(PandasDataProcessor())
    operators = {"DEFAULT": OperatorConfig("replace")}
    runs: list[tuple[float, float, float]] = []
    mapping: dict[str, str] = {}
    for _ in range(repeat):
        frame = original.copy()  # anonymize() replaces the cells of the frame it is given
        start = time.perf_counter()
        builder = PandasAnalysisBuilder(analyzer=engine())
        analysis = builder.generate_analysis(frame, n=len(frame), language=LANGUAGE)
        middle = time.perf_counter()
        structured.anonymize(frame, analysis, operators)
        runs.append((time.perf_counter() - start, middle - start, time.perf_counter() - middle))
        mapping = mapping or dict(analysis.entity_mapping)
        if not analysis.entity_mapping:
            print(f"  presidio-structured run {len(runs)}: no column named (found nothing)")
    best = min(runs)
    return Structured(best[0], statistics.median(r[0] for r in runs), best[1], best[2], mapping)


def table_section(args: argparse.Namespace) -> None:
    """The six-column table: rules alone on every row, rules + tagger on the first rows."""
    from anonymize.detect.analyzer import analyze_text, engine
    from anonymize.detect.vector import scan_table

    start = time.perf_counter()
    table, truth = make_table(args.rows, args.seed)
    print(
        f"table: {args.rows:,} rows x {table.width} columns, {truth.height:,} labelled spans,"
        f" built in {time.perf_counter() - start:.1f} s"
    )
    scan_table(table.head(100))  # warm-up: regex compilation, word lists, the tagger
    engine()  # warm-up: Presidio and spaCy load once
    resident = current_rss_mb()

    tracemalloc.start()
    vector_s, vector_median, found = timed(
        lambda: scan_table(table, fuse=False, classify=True), args.repeat
    )
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = peak_rss_mb()
    assert isinstance(found, pl.DataFrame)
    full_s, full_median, full = timed(
        lambda: scan_table(table, fuse=False, classify=False), args.repeat
    )
    assert isinstance(full, pl.DataFrame)
    same = found.sort(found.columns).equals(full.sort(full.columns))

    sample = table.head(args.sample)

    def presidio_scan(fuse: bool) -> list[dict[str, object]]:
        return [
            {"row": row, "column": column, "entity": s.entity, "start": s.start, "end": s.end}
            for column in sample.columns
            for row, text in enumerate(sample[column].to_list())
            for s in analyze_text(text, fuse=fuse)
        ]

    presidio_s, presidio_median, presidio = timed(lambda: presidio_scan(False), args.repeat)
    assert isinstance(presidio, list)
    structured = structured_speed(sample, args.repeat)

    vector_rate, presidio_rate = args.rows / vector_s, args.sample / presidio_s
    vector_median_rate = args.rows / vector_median
    print("rules alone (fuse=False):")
    for label, count, best, median, what in (
        (
            "vector   classify first",
            args.rows,
            vector_s,
            vector_median,
            f"{found.height:,} findings",
        ),
        ("vector   every rule    ", args.rows, full_s, full_median, "every rule on every cell"),
        ("presidio analyze_text  ", args.sample, presidio_s, presidio_median, "6 calls per row"),
        (
            "presidio-structured    ",
            args.sample,
            structured.best,
            structured.median,
            f"analysis {structured.analysis:.2f} s + anonymization {structured.anonymize:.2f} s",
        ),
    ):
        print(
            f"  {label}: {count:>9,} rows, best {best:6.2f} s (median {median:6.2f} s) = "
            f"{count / best:>9,.0f} rows/s ({what})"
        )
    print(
        f"  classify first: findings {'EQUAL' if same else 'DIFFER FROM'} the full scan's; "
        f"{full_s / vector_s:.2f}x faster best, {full_median / vector_median:.2f}x median"
    )
    print(
        f"  ratio vector / presidio per cell: {vector_rate / presidio_rate:,.0f}x best, "
        f"{vector_median_rate / (args.sample / presidio_median):,.0f}x median "
        f"(target >= 300x; {pl.thread_pool_size()} polars threads)"
    )
    alone = args.sample / structured.anonymize
    print(
        f"  ratio vector / presidio-structured: "
        f"{vector_rate / (args.sample / structured.best):,.0f}x best, "
        f"{vector_median_rate / (args.sample / structured.median):,.0f}x median (target >= "
        f"100x); against its anonymization pass alone ({alone:,.0f} rows/s, what it costs a row "
        f"on a table much longer than its sample): {vector_rate / alone:,.0f}x best"
    )
    print(
        f"  presidio-structured was given our Presidio engine (`analyzer.engine()`: the same "
        f"recognizers as analyze_text), language zh, n = all {args.sample:,} sampled rows, "
        f"the default most-common strategy, and a `replace` operator for every entity; its "
        f"columns: {structured.mapping or 'NONE (it found nothing: its time is no scan)'}"
    )
    print(
        f"  memory: RSS {resident:,.0f} MB with the table and both engines loaded, peak "
        f"{peak:,.0f} MB during the vector scan (+{peak - resident:,.0f} MB); Python heap "
        f"peak {python_peak:,.0f} MB (tracemalloc; polars allocates outside it); load "
        f"average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    # The tagger reads ~1,000 free-text cells a second: the whole table would take many
    # minutes, so rules + tagger run on its first rows (every column; the cells the tagger
    # reads are those fusion.is_free_text selects: the notes and the longer addresses).
    rows = min(args.tagger_rows, args.rows)
    head = table.head(rows)
    free = sum(
        int(head[c].map_elements(is_free, return_dtype=pl.Boolean).sum()) for c in head.columns
    )
    head_rules_s, head_rules_median, _ = timed(lambda: scan_table(head, fuse=False), args.repeat)
    fused_s, fused_median, fused = timed(lambda: scan_table(head, fuse=True), args.repeat)
    assert isinstance(fused, pl.DataFrame)
    presidio_fused_s, presidio_fused_median, presidio_fused = timed(
        lambda: presidio_scan(True), args.repeat
    )
    assert isinstance(presidio_fused, list)
    print(
        f"rules + tagger (fuse=True), first {rows:,} rows only (all 6 columns; {free:,} "
        "free-text cells go to the tagger):"
    )
    for label, count, best, median in (
        ("vector   rules alone  ", rows, head_rules_s, head_rules_median),
        ("vector   rules + tagger", rows, fused_s, fused_median),
        ("presidio rules + tagger", args.sample, presidio_fused_s, presidio_fused_median),
    ):
        print(
            f"  {label}: {count:>9,} rows, best {best:6.2f} s (median {median:6.2f} s) = "
            f"{count / best:>9,.0f} rows/s"
        )
    print(
        f"  ratio vector / presidio with the tagger: "
        f"{(rows / fused_s) / (args.sample / presidio_fused_s):,.1f}x best; the tagger costs "
        f"the vector path {fused_s / head_rules_s:,.1f}x its rules-alone time on these rows"
    )

    in_sample = pl.col("row") < args.sample
    in_head = pl.col("row") < rows
    schema = {
        "row": pl.Int64,
        "column": pl.String,
        "entity": pl.String,
        "start": pl.Int64,
        "end": pl.Int64,
    }
    results = {
        "vector rules (sample)": accuracy(found.filter(in_sample), truth.filter(in_sample)),
        "presidio rules (sample)": accuracy(
            pl.DataFrame(presidio, schema=schema), truth.filter(in_sample)
        ),
        "vector rules (all rows)": accuracy(found, truth),
        f"vector + tagger (first {rows:,})": accuracy(fused, truth.filter(in_head)),
        "presidio + tagger (sample)": accuracy(
            pl.DataFrame(presidio_fused, schema=schema), truth.filter(in_sample)
        ),
    }
    print("\n| entity | " + " | ".join(f"{k} R / P" for k in results) + " |")
    print("|---|" + "--:|" * len(results))
    for entity in Entity:
        cells = [f"{r:.4f} / {p:.4f}" for r, p in (v[entity.value] for v in results.values())]
        print(f"| {entity.value} | " + " | ".join(cells) + " |")


def is_free(text: str | None) -> bool:
    """Whether the tagger reads this cell (:func:`anonymize.detect.fusion.is_free_text`)."""
    from anonymize.detect.fusion import is_free_text

    return text is not None and is_free_text(text)


#: A note is built from corpus texts until it has at least this many characters.
NOTE_MIN_CHARS = 150
#: Characters that end a sentence; a text without one gets a full stop before the next.
_ENDS = tuple("。！？!?；…～~）)」”")


def make_notes(n: int, seed: int, min_chars: int = NOTE_MIN_CHARS) -> list[str]:
    """``n`` distinct free-text notes of at least ``min_chars`` characters.

    Each note is consecutive held-out corpus texts (every notes set of
    :mod:`tests.corpus`, names and numbers filled in by the corpus) joined
    until it is long enough, so notes read like a case worker's running
    record rather than one template.
    """
    from tests.corpus import HELD_OUT_SETS, make_corpus

    templates = tuple(t for notes in HELD_OUT_SETS.values() for t in notes)
    notes: list[str] = []
    seen: set[str] = set()
    note, round_ = "", 0
    while len(notes) < n:
        for item in make_corpus(4 * (n - len(notes)) + 8, seed + round_, templates):
            text = item.text.strip()
            note += text if not note or note.endswith(_ENDS) else "。" + text
            if len(note) >= min_chars:
                if note not in seen:
                    seen.add(note)
                    notes.append(note)
                note = ""
                if len(notes) == n:
                    break
        round_ += 1
    return notes


@dataclass(frozen=True, slots=True)
class Timing:
    """One configuration's times over ``count`` notes: wall (best, median) and CPU.

    ``cpu`` is the process's CPU seconds in the run with the best wall time: on
    a machine shared with other work, notes per CPU-second moves less than notes
    per second.
    """

    key: str
    label: str
    count: int
    best: float
    median: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.count / self.best

    @property
    def median_rate(self) -> float:
        return self.count / self.median

    @property
    def cpu_rate(self) -> float:
        return self.count / self.cpu if self.cpu else float("nan")


def measure(
    key: str, label: str, count: int, run: Callable[[], object], repeat: int
) -> tuple[Timing, object]:
    """Time ``repeat`` runs of ``run`` (wall and process CPU); the timing and the last result."""
    runs, result = [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    best = min(runs)
    median = statistics.median(w for w, _ in runs)
    return Timing(key, label, count, best[0], median, best[1]), result


#: The tagger stage's target (issue 17): free-text notes a second on the 2-core machine.
TAGGER_TARGET = 1_000


def load_tagger() -> float:
    """Seconds to load the tagger (import, model, session); near 0 once it is loaded."""
    start = time.perf_counter()
    from anonymize.detect.tagger import tagger

    tagger()
    return time.perf_counter() - start


def notes_speed(notes: list[str], repeat: int, presidio_n: int) -> tuple[list[Timing], bool]:
    """Time every configuration on the notes; also whether both vector ways agree.

    Returns the timings (rules alone, the tagger stage alone and the LAC
    tagging inside it, the stage without the span head, rules + tagger end to
    end, then Presidio rules alone and
    Presidio + tagger on the first ``presidio_n`` notes, one call per note) and
    whether ``fuse_texts`` after the rules gives exactly the end-to-end findings.
    """
    from anonymize.detect import fusion
    from anonymize.detect.analyzer import analyze_text, engine
    from anonymize.detect.entities import entity_set
    from anonymize.detect.findings import Span
    from anonymize.detect.tagger import Tagger, tagger
    from anonymize.detect.vector import scan_table

    n = len(notes)
    frame = pl.DataFrame({"note": pl.Series(notes, dtype=pl.String)})
    wanted = entity_set(None)
    scan_table(frame.head(16), fuse=False)  # warm-up: regex compilation, word lists
    label = "rules alone (`scan_table(fuse=False)`)"
    rules_t, rules = measure("rules", label, n, lambda: scan_table(frame, fuse=False), repeat)
    assert isinstance(rules, pl.DataFrame)
    spans: list[list[Span]] = [[] for _ in notes]
    columns = rules.select("row", "entity", "start", "end", "score")
    for row, entity, start, end, score in columns.iter_rows():
        spans[row].append(Span(start, end, entity, score))
    fusion.fuse_texts(notes[:32], spans[:32], wanted)  # warm-up: the first batches
    free = [t for t in notes if fusion.is_free_text(t)]
    label = "of which tagging (`tagger().words`: LAC and the span head, whole notes)"
    words_t, _ = measure("words", label, n, lambda: tagger().words(free), repeat)
    label = "tagger stage alone (`fusion.fuse_texts`)"
    stage_t, stage = measure(
        "stage", label, n, lambda: fusion.fuse_texts(notes, spans, wanted), repeat
    )
    assert isinstance(stage, list)
    # The same stage without the span head: LAC alone, read only where the rules leave doubt.
    headless = Tagger(head=False)
    shared = fusion.tagger
    fusion.tagger = lambda: headless  # type: ignore[assignment]
    try:
        fusion.fuse_texts(notes[:32], spans[:32], wanted)
        label = "tagger stage without the span head (`Tagger(head=False)`: doubts only)"
        headless_t, _ = measure(
            "stage_headless", label, n, lambda: fusion.fuse_texts(notes, spans, wanted), repeat
        )
    finally:
        fusion.tagger = shared  # type: ignore[assignment]
    label = "rules + tagger (`scan_table(fuse=True)`)"
    both_t, both = measure("both", label, n, lambda: scan_table(frame, fuse=True), repeat)
    assert isinstance(both, pl.DataFrame)
    staged = {(r, s.entity, s.start, s.end) for r, cell in enumerate(stage) for s in cell}
    agree = staged == set(both.select("row", "entity", "start", "end").iter_rows())

    sample = notes[:presidio_n]
    engine()  # warm-up: Presidio and spaCy load once
    analyze_text(sample[0])
    presidio = [
        measure(
            key,
            label,
            len(sample),
            lambda f=fuse: [analyze_text(t, fuse=f) for t in sample],
            repeat,
        )[0]
        for key, label, fuse in (
            ("presidio", "Presidio rules alone (`analyze_text(fuse=False)`, per note)", False),
            ("presidio_fused", "Presidio rules + tagger (`analyze_text`, per note)", True),
        )
    ]
    return [rules_t, stage_t, words_t, headless_t, both_t, *presidio], agree


def notes_markdown(timings: list[Timing]) -> str:
    """The notes table: notes/s (best, median), per CPU-second, and against Presidio + tagger."""
    peer = next(t for t in timings if t.key == "presidio_fused").rate
    lines = [
        "| configuration | notes | best s | notes/s (best) | notes/s (median) | notes/CPU-s "
        "| × Presidio + tagger |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {t.label} | {t.count:,} | {t.best:.2f} | {t.rate:,.0f} | {t.median_rate:,.0f} | "
        f"{t.cpu_rate:,.0f} | {t.rate / peer:,.1f}× |"
        for t in timings
    ]
    return "\n".join(lines)


def notes_section(args: argparse.Namespace, load_s: float) -> None:
    """Free-text notes of ~165 characters: every configuration, notes/s, the target."""
    start = time.perf_counter()
    notes = make_notes(args.notes, args.seed)
    mean = statistics.mean(len(n) for n in notes)
    print(
        f"\nnotes: {len(notes):,} distinct free-text notes (held-out corpus notes joined until "
        f">= {NOTE_MIN_CHARS} characters), mean {mean:.0f} characters, built in "
        f"{time.perf_counter() - start:.1f} s; Presidio on the first "
        f"{min(args.presidio_notes, len(notes)):,}; best and median of {args.repeat} runs"
    )
    timings, agree = notes_speed(notes, args.repeat, args.presidio_notes)
    print(f"tagger model load (import, ONNX session): {load_s:.2f} s, excluded from the timings\n")
    print(notes_markdown(timings))
    by = {t.key: t for t in timings}
    rules, words, stage, both = by["rules"], by["words"], by["stage"], by["both"]
    print(
        f"\ntagger stage: {stage.best / both.best:.0%} of rules + tagger end to end, LAC tagging "
        f"{words.best / stage.best:.0%} of the stage; rules + tagger is "
        f"{rules.rate / both.rate:.1f}x slower than the rules alone; the tagger stage's findings "
        f"{'equal' if agree else 'DIFFER FROM'} the end-to-end scan's"
    )
    met = "met" if stage.rate >= TAGGER_TARGET else "NOT met"
    print(
        f"target: tagger stage >= {TAGGER_TARGET:,} notes/s of ~165 characters: {met} "
        f"({stage.rate:,.0f} best, {stage.median_rate:,.0f} median; {stage.cpu_rate:,.0f} per "
        f"CPU-second; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path")
    parser.add_argument(
        "--tagger-rows", type=int, default=20_000, help="table rows scanned with the tagger"
    )
    parser.add_argument("--notes", type=int, default=3_000, help="free-text notes")
    parser.add_argument(
        "--presidio-notes", type=int, default=300, help="notes Presidio reads, one call each"
    )
    args = parser.parse_args()

    load_s = load_tagger()  # first, so that no other step pays for it
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    table_section(args)
    notes_section(args, load_s)


if __name__ == "__main__":
    main()
