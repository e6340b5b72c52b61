"""The ``extract`` job kind: an anonymized row-level release (art. 37).

The service calls :func:`validate` before it queues a job and :func:`charge`
for the ledger; Ray runs :func:`run` beside the data (``jobs.distributed``).
One run:

1. reads the spec's columns of the dataset's Parquet parts (a lazy scan);
2. keeps **one record per person** when the dataset has a privacy-unit
   column and a person has several rows (a seeded random choice; rows with
   no unit are dropped). k-anonymity counts records, so with several records
   per person a class of k records could hold fewer than k people; keeping
   one makes every class of k records k people. The report says how many
   rows this removed;
3. drops the direct identifiers, or replaces those listed in
   ``pseudonymize`` by keyed HMAC pseudonyms (the grant must allow linkage;
   the key is the grant's, derived by the service from the deployment
   secret, so pseudonyms are stable within a grant and unlinkable across
   grants);
4. generalizes the quasi-identifiers with :func:`anonymize.kanon.enforce_k_anonymity`
   (optimal full-domain generalization with bounded suppression, least NCP)
   until k holds, with k = max(spec, grade default, grant), and l-diversity
   holds for the sensitive column, minimizing the spec's information-loss
   ``metric``; hierarchies come from the spec (inline, or a steward's named
   one), else the steward's stored for the column
   (:mod:`jobs.kinds.extract.stewarded`), else are chosen per column
   (:mod:`jobs.kinds.extract.hierarchies`);
5. redacts the personal information found in free text of plain columns,
   then every value of the dataset's direct identifiers left in them
   (:mod:`jobs.kinds.extract.text`: free-text cells are read by the trained
   tagger too, spread over Ray tasks when there are many, :mod:`jobs.scan`),
   and shuffles the records (the stored order could be known, e.g. by
   registration date, and would link records back);
6. writes the table into quarantine atomically and returns an
   :class:`~jobs.runner.Outcome` whose ``report`` is the risk report for the
   reviewer: k and l targeted and achieved, records in, out and suppressed,
   the sizes of the smallest equivalence classes (sizes only),
   information loss, generalization levels, what was dropped, pseudonymized
   and redacted, and the PII scan of the result. Counts and names only.

An extract is **not** differentially private: it costs no ε, and its
protection is syntactic (k-anonymity, l-diversity) plus the steward's
review before release. l is *distinct* l-diversity (Machanavajjhala et al.
2007), which a continuous sensitive column (income to the cent) meets
easily; the reviewer sees the released values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from anonymize.errors import AnonymizationError
from anonymize.kanon import KAnonymityReport, KAnonymitySpec, enforce_k_anonymity
from jobs import storage
from jobs.dp.accounting import Charge
from jobs.errors import InternalError, InvalidJobSpec
from jobs.kinds.extract import failures
from jobs.kinds.extract.hierarchies import Choice, choose
from jobs.kinds.extract.rows import one_per_person, pseudonym_key, pseudonymized
from jobs.kinds.extract.spec import ExtractSpec
from jobs.kinds.extract.stewarded import check_named, resolve, sourced
from jobs.kinds.extract.text import redact_free_text, redact_known_identifiers, scan_summary
from jobs.scan import warm_tagger
from jobs.spec import NUMERIC_DTYPES, parse_as
from jobs.task import Outcome, Task, write_result
from policies.catalog import ColumnTag, Grade
from policies.extract import (
    check_can_extract_grade,
    check_can_pseudonymize,
    check_can_release_sensitive,
    effective_k,
    min_k,
)

__all__ = ["ExtractPlan", "charge", "plan_columns", "run", "validate"]

log = logging.getLogger(__name__)
NOT_DP = (
    "an extract is not differentially private: it spends no epsilon; its protection is "
    "k-anonymity and l-diversity on the quasi-identifiers plus review before release"
)


@dataclass(frozen=True, slots=True)
class ExtractPlan:
    """What happens to each listed column, from the spec and the catalog's tags.

    Attributes:
        dropped: Direct identifiers left out.
        pseudonymized: Direct identifiers released as keyed pseudonyms.
        quasi_identifiers: Columns generalized to k-anonymity.
        sensitive: The sensitive column checked for l-diversity, if any.
        plain: Columns released as they are, their free text redacted.
        released: The output columns, in the spec's order.
    """

    dropped: tuple[str, ...]
    pseudonymized: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    sensitive: str | None
    plain: tuple[str, ...]
    released: tuple[str, ...]


def plan_columns(spec: ExtractSpec, tags: Mapping[str, ColumnTag]) -> ExtractPlan:
    """Sort the spec's columns by what the extract does to them.

    Raises:
        InvalidJobSpec: A column is unknown, or more than one sensitive column is listed.
    """
    unknown = [c for c in spec.columns if c not in tags]
    if unknown:
        raise InvalidJobSpec(
            f"dataset '{spec.dataset}' has no column(s) {', '.join(repr(c) for c in unknown)}; "
            "list its schema with client.datasets()"
        )
    by_tag = {t: tuple(c for c in spec.columns if tags[c] is t) for t in ColumnTag}
    direct = by_tag[ColumnTag.DIRECT_IDENTIFIER]
    sensitive = by_tag[ColumnTag.SENSITIVE]
    if len(sensitive) > 1:
        raise InvalidJobSpec(
            f"the extract lists {len(sensitive)} sensitive columns "
            f"({', '.join(repr(c) for c in sensitive)}); l-diversity is enforced for one "
            "sensitive column per extract: keep one of them"
        )
    dropped = tuple(c for c in direct if c not in spec.pseudonymize)
    return ExtractPlan(
        dropped=dropped,
        pseudonymized=tuple(c for c in direct if c in spec.pseudonymize),
        quasi_identifiers=by_tag[ColumnTag.QUASI_IDENTIFIER],
        sensitive=sensitive[0] if sensitive else None,
        plain=by_tag[ColumnTag.PLAIN],
        released=tuple(c for c in spec.columns if c not in dropped),
    )


def _is_temporal(dtype: str) -> bool:
    return dtype.startswith(("Date", "Datetime"))


def _check_hierarchies(spec: ExtractSpec, dtypes: Mapping[str, str], the: ExtractPlan) -> None:
    """Each named hierarchy generalizes a quasi-identifier of a type it can read."""
    for column, hierarchy in spec.hierarchies.items():
        if column not in the.quasi_identifiers:
            raise InvalidJobSpec(
                f"hierarchies names column '{column}', which is not a quasi-identifier: "
                "only quasi-identifiers are generalized; remove it from hierarchies"
            )
        dtype = dtypes.get(column, "")
        needs = {
            "interval": dtype in NUMERIC_DTYPES,
            "cuts": dtype in NUMERIC_DTYPES,
            "date": _is_temporal(dtype) or dtype == "String",
            "address": dtype == "String",
        }.get(hierarchy.kind, True)
        if not needs:
            raise InvalidJobSpec(
                f"column '{column}' is of type {dtype}: a {hierarchy.kind} hierarchy cannot "
                "generalize it; choose another kind or leave the choice to the sandbox"
            )


def validate(
    spec: ExtractSpec,
    dtypes: Mapping[str, str],
    tags: Mapping[str, ColumnTag],
    grade: Grade,
    options: Mapping[str, Any],
) -> None:
    """Raise unless the extract may run on this dataset under this grant.

    Args:
        spec: The job spec.
        dtypes: Column name to polars dtype name, from the catalog.
        tags: Column name to tag, from the catalog.
        grade: The dataset's security grade.
        options: What the service derived from the grant (``linkage``, ``min_k``).

    Raises:
        PolicyViolation: Core data (art. 62), a sensitive column without l ≥ 2,
            or pseudonyms under a grant that does not allow linkage (art. 37).
        InvalidJobSpec: Unknown columns, pseudonyms of non-identifiers, two
            sensitive columns, ``l`` without a sensitive column, a hierarchy
            that does not fit its column, a named hierarchy the dataset does
            not store (``options["hierarchies"]``), or nothing left to release.
    """
    check_can_extract_grade(grade)
    the = plan_columns(spec, tags)
    check_can_pseudonymize(spec.pseudonymize, tags, linkage=bool(options.get("linkage", False)))
    check_can_release_sensitive([the.sensitive] if the.sensitive else [], spec.l)
    if spec.l is not None and the.sensitive is None:
        raise InvalidJobSpec(
            "l is set but the extract releases no sensitive column: "
            "add the sensitive column to columns, or remove l"
        )
    if not the.released:
        raise InvalidJobSpec(
            "every listed column is a direct identifier, and direct identifiers are dropped: "
            "list the quasi-identifiers, sensitive or plain columns to release"
        )
    _check_hierarchies(spec, dtypes, the)
    check_named(spec, options)


def charge(spec: ExtractSpec) -> Charge:
    """The ledger charge of an extract: nothing.

    An extract is not differentially private, so it has no ε or δ to spend;
    it still goes through the ledger (at zero) and is always reviewed.
    """
    del spec
    return Charge()


def _required_k(spec: ExtractSpec, grade: Grade, options: Mapping[str, Any]) -> tuple[int, int]:
    """(minimum, effective k): the grant's ``min_k`` and the grade's default both bind."""
    minimum = max(int(options.get("min_k") or 0), min_k(grade))
    return minimum, effective_k(spec.k, minimum)


def _anonymize(
    frame: pl.DataFrame, spec: ExtractSpec, the: ExtractPlan, k: int, choices: Mapping[str, Choice]
) -> tuple[pl.DataFrame, KAnonymityReport | None]:
    """The records generalized and suppressed to k (and l); failures carry no count.

    Raises:
        JobFailed: No generalization reaches the targets, a hierarchy does not
            fit its column, or the lattice is too large; the message names
            columns and the spec's numbers only (:mod:`jobs.kinds.extract.failures`).
    """
    l_target = spec.l if the.sensitive else None
    if not the.quasi_identifiers:
        # One class of all records: k is the record count, l the distinct sensitive values.
        short = frame.height < k or (
            the.sensitive is not None
            and spec.l is not None
            and frame[the.sensitive].drop_nulls().n_unique() < spec.l
        )
        if short:
            log.warning("extract of %r: one class of %d records", spec.dataset, frame.height)
            raise failures.one_class(spec.dataset, k, l_target, the.sensitive)
        return frame, None
    failures.check_fit(frame, spec.dataset, choices)
    failures.check_searchable(spec.dataset, choices)
    target = KAnonymitySpec(
        quasi_identifiers={q: c.hierarchy for q, c in choices.items()},
        k=k,
        sensitive=the.sensitive,
        l_diversity=l_target,
        max_suppression=spec.suppression_limit,
        metric=spec.metric,
    )
    try:
        return enforce_k_anonymity(frame, target)
    except AnonymizationError as err:
        raise failures.unreachable(
            spec.dataset,
            failures.targets(k, l_target),
            the.quasi_identifiers,
            spec.suppression_limit,
            err,
        ) from None


#: Sizes of the smallest equivalence classes a reviewer reads (sizes only, never their values).
SMALLEST_CLASSES = 5


def smallest_classes(out: pl.DataFrame, quasi_identifiers: tuple[str, ...]) -> list[int]:
    """Sizes of the :data:`SMALLEST_CLASSES` smallest equivalence classes, smallest first.

    An equivalence class is the released records sharing all quasi-identifier
    values; with none, the whole table is one class. Only sizes leave here.

    >>> smallest_classes(pl.DataFrame({"age": ["20-29"] * 3 + ["30-39"] * 5}), ("age",))
    [3, 5]
    """
    if out.height == 0:
        return []
    if not quasi_identifiers:
        return [out.height]
    sizes = out.group_by(list(quasi_identifiers)).len()["len"].sort()
    return [int(n) for n in sizes.head(SMALLEST_CLASSES)]


def _report(
    spec: ExtractSpec,
    the: ExtractPlan,
    k: tuple[int, int],
    people: dict[str, Any],
    records_in: int,
    out: pl.DataFrame,
    kanon: KAnonymityReport | None,
    choices: Mapping[str, Choice],
    redacted: dict[str, dict[str, int]],
) -> dict[str, Any]:
    minimum, target = k
    suppressed = kanon.rows_suppressed if kanon else 0
    l_achieved = None
    if kanon is not None and kanon.l_achieved is not None:
        l_achieved = int(kanon.l_achieved)
    elif the.sensitive is not None:
        l_achieved = int(out[the.sensitive].drop_nulls().n_unique())
    return {
        "kind": "extract",
        "k_requested": spec.k,
        "k_minimum": minimum,
        "k_target": target,
        "k_achieved": kanon.k_achieved if kanon else out.height,
        "l_target": spec.l,
        "l_kind": "distinct",
        "l_achieved": l_achieved,
        "sensitive_column": the.sensitive,
        "records_in": records_in,
        "records_out": out.height,
        "records_suppressed": suppressed,
        "smallest_classes": smallest_classes(out, the.quasi_identifiers),
        "suppression_limit": spec.suppression_limit,
        "suppression_limit_records": kanon.suppression_limit if kanon else 0,
        "per_person": people,
        "information_loss": {
            "metric": kanon.metric if kanon else "none: no quasi-identifier released",
            "value": kanon.information_loss if kanon else 0.0,
            "generalization_height": kanon.generalization_height if kanon else 0.0,
            "discernibility": kanon.discernibility if kanon else out.height**2,
        },
        "generalization": {
            q: {
                "level": kanon.levels[q] if kanon else 0,
                "height": c.hierarchy.height,
                "hierarchy": c.description,
                "source": c.source,
            }
            for q, c in choices.items()
        },
        "dropped_direct_identifiers": list(the.dropped),
        "pseudonymized": list(the.pseudonymized),
        "pseudonym": "HMAC-SHA256 keyed per grant, 16 hex digits" if the.pseudonymized else None,
        "redacted": redacted,
        "pii_scan": scan_summary(out),
        "differential_privacy": False,
        "epsilon": 0.0,
        "note": NOT_DP,
    }


@dataclass(frozen=True, slots=True)
class _Result:
    """The shape :func:`jobs.runner.write_result` writes."""

    table: pl.DataFrame
    epsilon: float = 0.0
    delta: float = 0.0
    cells: int = 0
    suppressed_cells: int = 0
    rho: float | None = None


def run(task: Task) -> Outcome:
    """Run an extract beside the data and write the release into quarantine.

    Args:
        task: The runner's task; ``options`` carries ``min_k``, ``linkage`` and
            ``pseudonym_key`` from the service.

    Returns:
        The outcome; ``report`` is the risk report (see the module docstring),
        ``cells`` the released cells, ``suppressed_cells`` the cells of the
        suppressed records.

    Raises:
        PolicyViolation: The rules of :func:`validate` (checked again here).
        JobFailed: k or l cannot be reached within the suppression limit, a
            hierarchy does not fit its column, no record is left, or reading
            the data failed; the message carries no data value and no number
            derived from the data (only the spec's k, l and suppression limit).
        InternalError: The task lacks its catalog context or pseudonym key.
    """
    spec = parse_as(ExtractSpec, task.spec)
    if spec is None:
        raise InternalError("the extract executor received a job of another kind")
    dataset = spec.dataset
    if dataset not in task.columns or dataset not in task.grades:
        raise InternalError("the task carries no catalog context for its dataset")
    columns = task.columns[dataset]
    tags = {c: ColumnTag(meta["tag"]) for c, meta in columns.items()}
    grade = Grade(task.grades[dataset])
    validate(spec, {c: m["dtype"] for c, m in columns.items()}, tags, grade, task.options)
    the = plan_columns(spec, tags)
    k = _required_k(spec, grade, task.options)
    key = pseudonym_key(task.options) if the.pseudonymized else b""
    unit = task.privacy_units.get(dataset)
    # Free text is also cleaned of every direct identifier of the dataset, listed or not.
    direct = [c for c, t in tags.items() if t is ColumnTag.DIRECT_IDENTIFIER] if the.plain else []
    read = list(dict.fromkeys([*spec.columns, *([unit] if unit else []), *direct]))
    if any(columns[c]["dtype"] == "String" for c in the.plain):
        warm_tagger()  # free text will be read: load the tagger while the records are anonymized
    with failures.data_errors():
        frame = storage.scan_parquet(task.inputs[dataset]).select(read).collect()
        identifiers = frame.select(direct)
        frame, people = one_per_person(frame, unit, task.seed)
        if frame.height == 0:
            raise failures.no_records(dataset, unit)
        frame = pseudonymized(frame.select(the.released), the.pseudonymized, key)
        given, steward = resolve(spec, task.options, the.quasi_identifiers)
        choices = sourced(choose(frame, the.quasi_identifiers, k[1], given), steward)
        released, kanon = _anonymize(frame, spec, the, k[1], choices)
        released, redacted = redact_free_text(released, the.plain)
        released, known = redact_known_identifiers(released, the.plain, identifiers)
        del identifiers
        released = released.sample(fraction=1.0, shuffle=True, seed=task.seed)
        report = _report(spec, the, k, people, frame.height, released, kanon, choices, redacted)
        report["redacted_known_identifiers"] = known
    suppressed = report["records_suppressed"] * released.width
    outcome = write_result(
        task, _Result(released, cells=released.height * released.width, suppressed_cells=suppressed)
    )
    return replace(outcome, report=report)
