"""The extract job kind: anonymized row-level release of the demo residents (art. 37)."""

from __future__ import annotations

import doctest
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import jobs.kinds.extract.engine
import jobs.kinds.extract.hierarchies
from anonymize.hierarchies import (
    AddressHierarchy,
    DateHierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
)
from anonymize.privacy_models import measure, normalized_certainty_penalty
from anonymize.transforms.pseudonym import pseudonymize
from jobs.errors import InvalidJobSpec, JobFailed
from jobs.kinds import parse_job_spec
from jobs.kinds.extract.engine import charge, run, validate
from jobs.kinds.extract.hierarchies import OTHER, choose
from jobs.kinds.extract.spec import ExtractSpec
from jobs.runner import execute
from jobs.task import Task, sha256_file
from policies.catalog import ColumnTag, Grade
from policies.errors import PolicyViolation
from sandbox.cli.demo_data import DEMO_TAGS, generate_residents

N = 1200
KEY = "5a" * 32
DIRECT = ["resident_id", "name", "phone", "address"]
QIS = ["sex", "age", "city", "district", "education", "occupation"]
ALL = list(DEMO_TAGS)
LINKAGE = {"min_k": 5, "linkage": True, "pseudonym_key": KEY}


@pytest.fixture(scope="module")
def residents() -> pl.DataFrame:
    return generate_residents(N, seed=20250401)


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "extract", "dataset": "residents", "columns": ALL, "l": 2}
    return spec | changes


def _task(
    tmp_path: Path,
    frame: pl.DataFrame,
    spec: dict[str, Any],
    *,
    grade: str = "general",
    options: dict[str, Any] | None = None,
    unit: str | None = "resident_id",
    tags: dict[str, str] | None = None,
    seed: int | None = 7,
    parts: int = 2,
) -> Task:
    """A task over ``frame`` stored as ``parts`` Parquet files, as the service stores datasets."""
    folder = tmp_path / "data"
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-frame.height // parts)
    for i in range(parts):
        frame.slice(i * size, size).write_parquet(folder / f"part-{i:05d}.parquet")
    tags = tags or DEMO_TAGS
    return Task(
        job_id=1,
        spec=spec,
        inputs={"residents": str(folder / "part-*.parquet")},
        row_counts={"residents": frame.height},
        output_path=str(tmp_path / "quarantine" / "job-1.parquet"),
        min_cell=10,
        seed=seed,
        privacy_units={"residents": unit},
        columns={
            "residents": {c: {"dtype": str(frame.schema[c]), "tag": tags[c]} for c in frame.columns}
        },
        grades={"residents": grade},
        options=dict(LINKAGE if options is None else options),
    )


def _extract(tmp_path: Path, frame: pl.DataFrame, spec: dict[str, Any], **kw: Any) -> Any:
    outcome = run(_task(tmp_path, frame, spec, **kw))
    return outcome, pl.read_parquet(outcome.output_path)


def _qis(report: dict[str, Any]) -> list[str]:
    return list(report["generalization"])


def test_extract_when_demo_data_then_k_at_least_5_with_measured_information_loss(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome, out = _extract(tmp_path, residents, _spec())
    report = outcome.report
    assert report["k_target"] == 5
    assert report["k_achieved"] >= 5
    assert 0.0 < report["information_loss"]["value"] <= 1.0
    assert "normalized certainty penalty" in report["information_loss"]["metric"]
    # An independent measure of the released table agrees with the report.
    measured = measure(out, QIS, "income")
    assert measured.k == report["k_achieved"] >= 5
    assert measured.l_distinct == report["l_achieved"] >= 2
    assert report["records_in"] - report["records_suppressed"] == report["records_out"]
    assert report["records_out"] == out.height == outcome.rows
    assert report["records_suppressed"] <= report["suppression_limit_records"] == int(0.05 * N)
    assert set(_qis(report)) == set(QIS)
    for q, entry in report["generalization"].items():
        assert 0 <= entry["level"] <= entry["height"], q
    assert report["epsilon"] == outcome.epsilon == 0.0
    assert report["differential_privacy"] is False
    assert "not differentially private" in report["note"]


def test_extract_when_demo_data_then_smallest_class_sizes_reported_sizes_only(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome, out = _extract(tmp_path, residents, _spec())
    sizes = outcome.report["smallest_classes"]
    # measured independently: the released records grouped by their quasi-identifiers
    measured = sorted(out.group_by(_qis(outcome.report)).len()["len"].to_list())
    assert sizes == measured[: len(sizes)] and 0 < len(sizes) <= 5
    assert sizes[0] == outcome.report["k_achieved"] >= 5
    assert all(isinstance(n, int) for n in sizes)  # sizes only: no class's values


def test_extract_when_report_read_then_every_field_present(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome, _ = _extract(tmp_path, residents, _spec())
    fields = {
        "k_target", "k_achieved", "l_target", "l_achieved", "records_in", "records_out",
        "records_suppressed", "information_loss", "generalization", "pii_scan", "note",
        "per_person", "dropped_direct_identifiers", "pseudonymized", "redacted", "epsilon",
    }  # fmt: skip
    assert fields <= set(outcome.report)
    assert outcome.report["pii_scan"] == {
        "cells_with_findings": 0,
        "by_entity": {},
        "by_column": {},
    }
    assert outcome.report["dropped_direct_identifiers"] == [
        "resident_id",
        "name",
        "phone",
        "address",
    ]
    # The report is JSON for the job store, and carries names and counts, never a value.
    text = json.dumps(outcome.report, ensure_ascii=False)
    strings = [c for c, t in residents.schema.items() if t == pl.String]
    values = {str(v) for c in strings for v in residents[c].unique().to_list() if len(str(v)) >= 2}
    assert not [v for v in values if v in text]


def test_extract_when_information_loss_recomputed_then_equals_report(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    # Every hierarchy given in the spec, and records aligned through their pseudonyms.
    age = IntervalHierarchy(widths=(5, 10, 20, 40))
    city = MapHierarchy(levels=({c: "江苏省" for c in residents["city"].unique()},))
    school = {"小学": "基础", "初中": "基础", "高中": "中等", "大专": "中等", "本科": "高等"}
    education = MapHierarchy(levels=(school | {"研究生": "高等"},))
    hierarchies = {"age": age, "city": city, "education": education}
    spec = _spec(
        columns=["resident_id", "age", "city", "education", "income"],
        pseudonymize=["resident_id"],
        hierarchies={q: h.model_dump(mode="json") for q, h in hierarchies.items()},
    )
    outcome, out = _extract(tmp_path, residents, spec)
    report = outcome.report
    levels = {q: report["generalization"][q]["level"] for q in hierarchies}
    assert {e["source"] for e in report["generalization"].values()} == {"spec"}
    generalized = residents.with_columns(h.expr(q, levels[q]) for q, h in hierarchies.items())
    ids = residents.select(
        pseudonymize(residents["resident_id"], bytes.fromhex(KEY), domain="resident_id")
    )["resident_id"]
    suppressed = ~ids.is_in(out["resident_id"].to_list())
    assert int(suppressed.sum()) == report["records_suppressed"]
    loss = normalized_certainty_penalty(
        residents, generalized, list(hierarchies), suppressed=suppressed
    )
    assert loss == pytest.approx(report["information_loss"]["value"])
    # The released labels are the hierarchy's labels at the reported levels.
    kept = generalized.filter(~suppressed)
    for q in hierarchies:
        assert sorted(out[q].cast(pl.String).to_list()) == sorted(kept[q].cast(pl.String).to_list())


@pytest.mark.parametrize(
    ("grade", "options", "k", "expected"),
    [
        ("important", LINKAGE | {"min_k": 10}, 5, 10),  # important data: k >= 10
        ("important", LINKAGE | {"min_k": 0}, 5, 10),  # ... even if the task's minimum is low
        ("general", LINKAGE | {"min_k": 12}, 5, 12),  # a grant tightens
        ("general", LINKAGE | {"min_k": 2}, 2, 5),  # neither grant nor spec loosens
        ("general", LINKAGE, 15, 15),  # the spec may ask for more
    ],
)
def test_extract_when_grade_grant_and_spec_k_then_largest_enforced(
    tmp_path: Path,
    residents: pl.DataFrame,
    grade: str,
    options: dict[str, Any],
    k: int,
    expected: int,
) -> None:
    spec = _spec(columns=["sex", "age", "city", "income"], k=k, suppression_limit=0.1)
    outcome, out = _extract(tmp_path, residents, spec, grade=grade, options=options)
    assert outcome.report["k_target"] == expected
    assert measure(out, ["sex", "age", "city"]).k == outcome.report["k_achieved"] >= expected


def test_extract_when_core_data_then_refused(tmp_path: Path, residents: pl.DataFrame) -> None:
    spec = ExtractSpec.model_validate(_spec())
    dtypes = {c: str(t) for c, t in residents.schema.items()}
    tags = {c: ColumnTag(t) for c, t in DEMO_TAGS.items()}
    with pytest.raises(PolicyViolation, match=r"core.*art\. 62"):
        validate(spec, dtypes, tags, Grade.CORE, LINKAGE)
    with pytest.raises(PolicyViolation, match=r"art\. 62"):
        run(_task(tmp_path, residents, _spec(), grade="core"))
    assert not Path(tmp_path / "quarantine" / "job-1.parquet").exists()


def test_extract_when_sensitive_column_without_l_then_refused(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    spec = _spec(l=None)
    with pytest.raises(PolicyViolation, match=r"'income'.*l-diverse"):
        run(_task(tmp_path, residents, spec))
    # Without the sensitive column, no l is needed.
    columns = [c for c in ALL if c != "income"]
    outcome, out = _extract(tmp_path, residents, _spec(columns=columns, l=None))
    assert "income" not in out.columns
    assert outcome.report["l_target"] is None


def _identifier_values(frame: pl.DataFrame) -> set[str]:
    return {str(v) for c in DIRECT for v in frame[c].drop_nulls().to_list()}


def _cells(frame: pl.DataFrame) -> list[str]:
    return [str(v) for c in frame.columns for v in frame[c].drop_nulls().to_list()]


@pytest.mark.parametrize(
    ("pseudonymized", "options"),
    [
        ([], {"min_k": 5, "linkage": False}),  # every identifier dropped, no key needed
        (["resident_id", "phone"], LINKAGE),  # two as pseudonyms, the others dropped
    ],
)
def test_extract_when_identifiers_listed_then_no_identifier_value_survives_anywhere(
    tmp_path: Path,
    residents: pl.DataFrame,
    pseudonymized: list[str],
    options: dict[str, Any],
) -> None:
    outcome, out = _extract(tmp_path, residents, _spec(pseudonymize=pseudonymized), options=options)
    secrets = _identifier_values(residents)
    long = [s for s in secrets if len(s) >= 11]  # IDs, phones, addresses
    cells = _cells(out)
    assert not secrets & set(cells)
    assert not pl.Series(cells, dtype=pl.String).str.contains_any(long).any()
    assert [c for c in DIRECT if c in out.columns] == pseudonymized
    assert outcome.report["pseudonymized"] == pseudonymized


def test_extract_when_pseudonymized_then_stable_keyed_and_hex(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    spec = _spec(
        columns=["resident_id", "sex", "age", "city"], pseudonymize=["resident_id"], l=None
    )
    first, out_a = _extract(tmp_path / "a", residents, spec, seed=1)
    second, out_b = _extract(tmp_path / "b", residents, spec, seed=2)
    other_key = LINKAGE | {"pseudonym_key": "c3" * 32}
    _, out_c = _extract(tmp_path / "c", residents, spec, options=other_key)
    a, b, c = (set(o["resident_id"].to_list()) for o in (out_a, out_b, out_c))
    kept_in_both = first.report["records_out"] + second.report["records_out"] - N
    assert len(a & b) >= kept_in_both > 0  # the same person, the same pseudonym
    assert not a & c  # another grant's key: unlinkable
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in a)
    assert out_a["resident_id"].n_unique() == out_a.height


def test_extract_when_pseudonyms_without_linkage_then_refused(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    spec = _spec(pseudonymize=["resident_id"])
    with pytest.raises(PolicyViolation, match="linkage"):
        run(_task(tmp_path, residents, spec, options={"min_k": 5, "linkage": False}))


def test_extract_when_free_text_holds_names_and_phones_then_redacted(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    frame = residents.with_columns(
        pl.concat_str([pl.lit("联系人"), pl.col("name"), pl.lit("，电话"), pl.col("phone")]).alias(
            "note"
        )
    )
    tags = DEMO_TAGS | {"note": "plain"}
    spec = _spec(columns=["sex", "age", "city", "income", "note"])
    outcome, out = _extract(tmp_path, frame, spec, tags=tags)
    notes = out["note"].to_list()
    # Detection finds nearly every name; the dataset's own names catch the rest.
    assert notes and set(notes) <= {
        "联系人<PERSON>，电话<PHONE_NUMBER>",
        "联系人<name>，电话<PHONE_NUMBER>",
    }
    detected = outcome.report["redacted"]["note"]
    known = outcome.report["redacted_known_identifiers"].get("note", {})
    assert detected["PHONE_NUMBER"] == out.height
    assert detected["PERSON"] + known.get("name", 0) == out.height
    assert outcome.report["pii_scan"]["cells_with_findings"] == 0
    assert not out["note"].str.contains_any(residents["name"].to_list()).any()


def test_extract_when_free_text_names_another_resident_then_known_identifiers_redacted(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    # Each note names the next resident and their phone, written without context words.
    others = residents.select(pl.col("name").shift(-1, fill_value="无"), pl.col("phone").shift(1))
    frame = residents.with_columns(
        pl.concat_str([others["name"], pl.lit("/"), others["phone"].fill_null("-")]).alias("note"),
        pl.col("phone").cast(pl.Int64).alias("phone_number"),
    )
    tags = DEMO_TAGS | {"note": "plain", "phone_number": "plain"}
    spec = _spec(columns=["sex", "age", "city", "income", "note", "phone_number"])
    outcome, out = _extract(tmp_path, frame, spec, tags=tags)
    secrets = _identifier_values(residents)
    assert not out["note"].str.contains_any(sorted(secrets)).any()
    assert out["phone_number"].null_count() == out.height  # numbers that are phones: nulled
    assert outcome.report["pii_scan"]["cells_with_findings"] == 0


def test_extract_when_suppression_limit_given_then_respected(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    spec = _spec(columns=["sex", "age", "city", "income"])
    none, out_none = _extract(tmp_path / "a", residents, spec | {"suppression_limit": 0.0})
    some, out_some = _extract(tmp_path / "b", residents, spec | {"suppression_limit": 0.05})
    assert none.report["records_suppressed"] == 0
    assert out_none.height == N
    # With suppression allowed the optimum removes a few outliers and keeps more detail.
    assert 0 < some.report["records_suppressed"] <= int(0.05 * N)
    assert out_some.height == N - some.report["records_suppressed"]
    assert some.report["information_loss"]["value"] < none.report["information_loss"]["value"]
    assert some.suppressed_cells == some.report["records_suppressed"] * out_some.width


def test_extract_when_k_infeasible_then_job_failed_with_advice_and_no_values(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    spec = _spec(k=5000, suppression_limit=0.0)
    with pytest.raises(JobFailed) as info:
        run(_task(tmp_path, residents, spec))
    message = str(info.value)
    assert "k=5000" in message
    assert "fewer quasi-identifiers" in message
    assert "suppression_limit" in message
    text = [c for c, t in residents.schema.items() if t == pl.String]
    values = {str(v) for c in text for v in residents[c].unique().to_list()}
    assert not [v for v in values if len(v) >= 2 and v in message]
    assert not Path(tmp_path / "quarantine" / "job-1.parquet").exists()


def test_extract_when_no_quasi_identifier_and_too_few_records_then_job_failed(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome, out = _extract(tmp_path / "a", residents, _spec(columns=["income", "household_size"]))
    assert outcome.report["k_achieved"] == out.height == N
    with pytest.raises(JobFailed, match="one class"):
        run(_task(tmp_path / "b", residents.head(4), _spec(columns=["income", "household_size"])))


def test_extract_when_written_then_readable_parquet_with_matching_hash(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome, out = _extract(tmp_path, residents, _spec())
    path = Path(outcome.output_path)
    assert path.name == "job-1.parquet"
    assert outcome.output_sha256 == sha256_file(path)
    assert not list(path.parent.glob("*.partial"))
    assert out.columns == [c for c in ALL if c not in DIRECT]
    assert outcome.cells == out.height * out.width


def test_extract_when_run_through_runner_execute_then_same_executor(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    outcome = execute(_task(tmp_path, residents, _spec()))
    assert outcome.report["kind"] == "extract"
    assert outcome.report["k_achieved"] >= 5


def test_extract_when_person_has_several_rows_then_one_kept_and_k_counts_people(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    twice = pl.concat([residents, residents.with_columns(pl.col("age") + 1)])
    outcome, out = _extract(tmp_path, twice, _spec(pseudonymize=["resident_id"]))
    people = outcome.report["per_person"]
    assert people["rows_read"] == 2 * N
    assert people["rows_of_repeat_persons_dropped"] == N
    assert outcome.report["records_in"] == N
    assert out["resident_id"].n_unique() == out.height  # one record per person


def test_extract_when_same_seed_then_same_release(tmp_path: Path, residents: pl.DataFrame) -> None:
    a = run(_task(tmp_path / "a", residents, _spec(), seed=3))
    b = run(_task(tmp_path / "b", residents, _spec(), seed=3))
    assert a.output_sha256 == b.output_sha256


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        # a column the dataset lacks
        ({"columns": ["age", "salary"]}, InvalidJobSpec, "salary"),
        # two sensitive columns: l is enforced for one
        ({"columns": ["age", "income", "income2"]}, InvalidJobSpec, "one"),
        # l without a sensitive column
        ({"columns": ["age", "city"], "l": 3}, InvalidJobSpec, "no sensitive column"),
        # only direct identifiers: nothing would be released
        ({"columns": ["name", "phone"], "l": None}, InvalidJobSpec, "direct identifier"),
        # pseudonyms of a quasi-identifier
        ({"columns": ["age", "city"], "l": None, "pseudonymize": ["age"]}, InvalidJobSpec, "age"),
        # a hierarchy on a plain column
        (
            {"columns": ["age", "household_size"], "l": None,
             "hierarchies": {"household_size": {"kind": "interval", "widths": [2]}}},
            InvalidJobSpec,
            "not a quasi-identifier",
        ),
        # an interval hierarchy on text
        (
            {"columns": ["city"], "l": None,
             "hierarchies": {"city": {"kind": "interval", "widths": [2]}}},
            InvalidJobSpec,
            "cannot generalize",
        ),
    ],
)  # fmt: skip
def test_validate_when_spec_does_not_fit_dataset_then_invalid(
    residents: pl.DataFrame, changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    dtypes = {c: str(t) for c, t in residents.schema.items()} | {"income2": "Float64"}
    tags = {c: ColumnTag(t) for c, t in DEMO_TAGS.items()} | {"income2": ColumnTag.SENSITIVE}
    spec = ExtractSpec.model_validate(_spec(**changes))
    with pytest.raises(error, match=match):
        validate(spec, dtypes, tags, Grade.GENERAL, LINKAGE)


@pytest.mark.parametrize(
    "changes",
    [
        {"pseudonymize": ["resident_id"], "columns": ["age"]},  # pseudonym of an unlisted column
        {"hierarchies": {"age": {"kind": "interval", "widths": [5]}}, "columns": ["city"]},
        {"columns": ["age", "age"]},  # a column twice
        {"extra": 1},  # unknown field
    ],
)
def test_extract_spec_when_inconsistent_then_invalid(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobSpec):
        parse_job_spec(_spec(**changes))


def test_charge_when_extract_then_no_epsilon() -> None:
    cost = charge(ExtractSpec.model_validate(_spec()))
    assert (cost.epsilon, cost.rho, cost.delta) == (0.0, 0.0, 0.0)
    assert "not differentially private" in (jobs.kinds.extract.engine.charge.__doc__ or "")


def _choice(frame: pl.DataFrame, column: str, k: int = 5) -> Any:
    return choose(frame, list(frame.columns), k, {})[column].hierarchy


@pytest.mark.parametrize(
    ("frame", "column", "check"),
    [
        # an age: 5-year bands upward
        (
            pl.DataFrame({"age": [20, 35, 50]}), "age",
            lambda h: isinstance(h, IntervalHierarchy) and h.widths == (5, 10, 20, 40),
        ),
        # other numbers: a 1-2-5 width near range / 20, then 2x and 10x
        (
            pl.DataFrame({"weight": [0.0, 200.0]}), "weight",
            lambda h: isinstance(h, IntervalHierarchy) and h.widths == (10, 20, 100),
        ),
        # dates and ISO date text: month, quarter, year, decade
        (
            pl.DataFrame({"born": ["1980-01-02", "1990-05-06"]}).with_columns(
                pl.col("born").str.to_date()
            ),
            "born",
            lambda h: isinstance(h, DateHierarchy)
            and h.levels == ("month", "quarter", "year", "decade"),
        ),
        (pl.DataFrame({"born": ["1980-01-02", "1990-05-06"]}), "born",
         lambda h: isinstance(h, DateHierarchy)),
        # full addresses: district and city (a single province is left out)
        (
            pl.DataFrame({"home": ["江苏省南京市玄武区中山路1号", "江苏省苏州市姑苏区人民路2号"]}),
            "home",
            lambda h: isinstance(h, AddressHierarchy) and h.levels == ("district", "city"),
        ),
        # region codes: GB/T 2260 prefixes
        (
            pl.DataFrame({"region": ["320102", "320505"]}), "region",
            lambda h: isinstance(h, PrefixHierarchy) and h.lengths == (4, 2),
        ),
        # a category another quasi-identifier depends on: district -> city
        (
            pl.DataFrame(
                {"district": ["玄武区", "秦淮区", "姑苏区"], "city": ["南京市", "南京市", "苏州市"]}
            ),
            "district",
            lambda h: isinstance(h, MapHierarchy)
            and h.levels == ({"玄武区": "南京市", "秦淮区": "南京市", "姑苏区": "苏州市"},),
        ),
    ],
)  # fmt: skip
def test_choose_when_column_semantics_then_fitting_hierarchy(
    frame: pl.DataFrame, column: str, check: Callable[[Any], bool]
) -> None:
    assert check(_choice(frame, column))


def test_choose_when_plain_category_then_rare_values_merged_then_star() -> None:
    # Hobbies: no taxonomy knows them (occupations would go to their GB/T 6565 group).
    frame = pl.DataFrame({"hobby": ["围棋"] * 6 + ["书法"] * 5 + ["潜水"]})
    h = _choice(frame, "hobby", k=5)
    assert isinstance(h, MapHierarchy)
    assert frame.select(h.expr("hobby", 1))["hobby"].unique().sort().to_list() == sorted(
        ["围棋", "书法", OTHER]
    )
    assert frame.select(h.expr("hobby", 2))["hobby"].unique().to_list() == ["*"]


def test_extract_hierarchies_when_doctests_run_then_they_pass() -> None:
    result = doctest.testmod(jobs.kinds.extract.hierarchies)
    assert result.attempted > 0
    assert result.failed == 0


def test_extract_when_quasi_identifiers_of_every_type_then_k_reached(
    tmp_path: Path, residents: pl.DataFrame
) -> None:
    frame = residents.select(
        "resident_id",
        "income",
        (pl.date(2025, 1, 1) - pl.duration(days=pl.col("age") * 365)).alias("born"),
        (pl.col("sex") == "男").alias("male"),
        pl.when(pl.col("household_size") > 5).then(None).otherwise(pl.col("household_size"))
        .alias("household"),
        pl.col("education").cast(pl.Categorical).alias("school"),
        pl.col("address").str.extract(r"^(.+?[区县])").alias("home"),
    )  # fmt: skip
    tags = {c: "quasi_identifier" for c in frame.columns} | {
        "resident_id": "direct_identifier",
        "income": "sensitive",
    }
    spec = _spec(columns=[c for c in frame.columns if c != "resident_id"])
    outcome, out = _extract(tmp_path, frame, spec, tags=tags)
    qis = ["born", "male", "household", "school", "home"]
    kinds = {q: outcome.report["generalization"][q]["hierarchy"]["kind"] for q in qis}
    assert kinds == {
        "born": "date",
        "male": "map",
        "household": "interval",
        "school": "map",
        "home": "address",
    }
    assert measure(out, qis, "income").k == outcome.report["k_achieved"] >= 5


# --- failures tell the operator no number derived from the data ---------------------
#
# A failed job's message reaches its operator at epsilon 0, repeatably and without
# review: a count in it would be a free counting oracle. Numbers the spec itself
# holds (k, l, the suppression limit, the documented maximum 0.5) may appear.


def _numbers(message: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", message))


def _text_values(frame: pl.DataFrame) -> set[str]:
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return {str(v) for c in text for v in frame[c].drop_nulls().unique().to_list() if len(v) >= 2}


def _with_bad_dates(residents: pl.DataFrame) -> pl.DataFrame:
    """A ``born`` column of ISO dates, every seventh one written the Chinese way."""
    born = pl.date(2025, 1, 1) - pl.duration(days=pl.col("age") * 365)
    chinese = born.dt.strftime("%Y年%m月%d日")
    every_seventh = pl.int_range(pl.len()) % 7 == 0
    return residents.with_columns(
        pl.when(every_seventh).then(chinese).otherwise(born.dt.strftime("%Y-%m-%d")).alias("born")
    )


def _map_missing_one_district(residents: pl.DataFrame) -> dict[str, Any]:
    pairs = residents.select("district", "city").unique().sort("district")
    return {d: c for d, c in pairs.iter_rows()} | {pairs["district"][0]: None}


def _case_map(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    districts = {d: c for d, c in _map_missing_one_district(residents).items() if c is not None}
    hierarchy = {"kind": "map", "levels": [districts]}
    spec = _spec(columns=["sex", "district"], l=None, hierarchies={"district": hierarchy})
    return residents, spec, {}


def _case_dates(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    frame = _with_bad_dates(residents)
    tags = DEMO_TAGS | {"born": "quasi_identifier"}
    spec = _spec(columns=["sex", "born"], l=None, hierarchies={"born": {"kind": "date"}})
    return frame, spec, {"tags": tags}


def _case_k(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    return residents, _spec(k=5000, suppression_limit=0.0), {}


def _case_l(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    # Two distinct sensitive values cannot make any class 3-diverse.
    frame = residents.with_columns((pl.col("income") > 50_000).cast(pl.Float64).alias("income"))
    return frame, _spec(columns=["sex", "age", "income"], l=3), {}


def _case_empty(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    # No row has a privacy unit, so one-record-per-person keeps nothing.
    frame = residents.with_columns(pl.lit(None, pl.String).alias("resident_id"))
    return frame, _spec(columns=["sex", "age", "income"]), {}


def _case_one_class(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    return residents.head(4), _spec(columns=["income", "household_size"]), {}


def _case_lattice(residents: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    frame = residents.with_columns(pl.col("age").alias("age_b"), pl.col("age").alias("age_c"))
    tags = DEMO_TAGS | {"age_b": "quasi_identifier", "age_c": "quasi_identifier"}
    fine = {"kind": "interval", "widths": [2**i for i in range(50)]}  # 52 levels each
    ages = ["age", "age_b", "age_c"]
    spec = _spec(columns=ages, l=None, hierarchies=dict.fromkeys(ages, fine))
    return frame, spec, {"tags": tags}


FAILURES = [
    # a map hierarchy that misses one district
    (_case_map, "district", set()),
    # a date hierarchy on a column where some dates are not ISO
    (_case_dates, "born", set()),
    # k larger than any class can be without suppression
    (_case_k, "k=5000", {"5000", "2", "0", "0.5"}),
    # l larger than the sensitive column's distinct values
    (_case_l, "l=3", {"5", "3", "0.05", "0.5"}),
    # nothing left after the rows without a privacy unit are dropped
    (_case_empty, "no records", set()),
    # no quasi-identifier and fewer records than k: the one class misses k
    (_case_one_class, "one class", {"5", "2"}),
    # hierarchies too fine to search
    (_case_lattice, "too many combinations", set()),
]


@pytest.mark.parametrize(("case", "phrase", "allowed"), FAILURES)
def test_extract_when_it_fails_then_message_has_no_count_and_no_value(
    tmp_path: Path,
    residents: pl.DataFrame,
    case: Callable[[pl.DataFrame], tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]],
    phrase: str,
    allowed: set[str],
) -> None:
    frame, spec, kw = case(residents)
    with pytest.raises(JobFailed) as info:
        run(_task(tmp_path, frame, spec, **kw))
    message = str(info.value)
    assert phrase in message
    assert _numbers(message) <= allowed, message
    assert not [v for v in _text_values(frame) if v in message]
    assert not Path(tmp_path / "quarantine" / "job-1.parquet").exists()


def test_extract_when_map_misses_values_then_count_is_logged_for_the_bureau_only(
    tmp_path: Path, residents: pl.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    frame, spec, kw = _case_map(residents)
    first = residents.select("district").unique().sort("district")["district"][0]
    missing = int((residents["district"] == first).sum())
    with caplog.at_level("WARNING"), pytest.raises(JobFailed) as info:
        run(_task(tmp_path, frame, spec, **kw))
    assert str(missing) not in str(info.value)
    assert f"{missing} value(s) of column 'district'" in caplog.text
    assert "complete" in str(info.value) or "covers every value" in str(info.value)


def test_extract_when_anonymizer_error_escapes_then_job_failed_without_its_text() -> None:
    from anonymize.errors import AnonymizationError
    from jobs.kinds.extract.failures import data_errors

    with pytest.raises(JobFailed) as info, data_errors():
        raise AnonymizationError("142 value(s) of column 'x' are odd")
    assert re.search(r"\d", str(info.value)) is None
    assert "142" not in str(info.value)
