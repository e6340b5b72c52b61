"""Dataset catalog: stewards ingest, everyone reads metadata; no route returns a row."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from pydantic import ValidationError

from policies.access import can_read_exact_facts_of
from policies.errors import InvalidRequest, NotFound
from policies.roles import Role, check_role
from sandbox.access.auth import Principal
from sandbox.catalog import datasets as catalog
from sandbox.catalog.facts import input_digest
from sandbox.catalog.withdraw import visible
from sandbox.service import Sandbox
from sandbox.service.withdraw import withdraw as do_withdraw
from sandbox.store.models import Dataset
from sandbox.web.api.schemas import (
    DatasetCreate,
    DatasetCreateJson,
    DatasetPublic,
    DatasetWithdraw,
    ProposalPublic,
)
from sandbox.web.deps import Caller, SandboxDep

router = APIRouter(tags=["catalog"])


def _view(d: Dataset, who: Principal, sandbox: Sandbox) -> DatasetPublic:
    """The dataset as the caller may see it: exact facts for its bureau and auditors (art. 63)."""
    return DatasetPublic.of(
        d,
        with_evidence=who.role is not Role.OPERATOR,
        exact=can_read_exact_facts_of(who.role, who.org_id, [d.org_id]),
        digest=input_digest(sandbox.settings.secret(), d.sha256),
    )


@router.post("/datasets", status_code=status.HTTP_201_CREATED)
def ingest(
    who: Caller,
    sandbox: SandboxDep,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030/GBK, header row) or Parquet")
    ],
    metadata: Annotated[DatasetCreateJson, Form(description="JSON object of DatasetCreate")],
) -> DatasetPublic:
    """Ingest a dataset (steward)."""
    check_role(who.role, Role.STEWARD)
    try:
        body = DatasetCreate.model_validate(json.loads(metadata))
    except (json.JSONDecodeError, ValidationError, RecursionError) as err:  # nested too deep
        raise InvalidRequest(
            "metadata must be a JSON object with name, source, open_attribute, grade, and "
            "optionally tags, overrides (column -> reason), privacy_unit, public_keys, "
            'group_size_bands (column -> {"low": L, "high": H}) and hierarchies '
            "(column -> ARX CSV text)"
        ) from err
    upload = sandbox.settings.data_dir / "uploads" / f"{uuid.uuid4().hex}.upload"
    try:
        catalog.copy_upload(file.file, upload, sandbox.settings.max_upload_bytes)
        dataset = catalog.ingest(
            sandbox.db,
            sandbox.settings,
            who.actor,
            who.user_id,
            upload,
            catalog.IngestRequest(
                name=body.name,
                source=body.source,
                open_attribute=body.open_attribute,
                grade=body.grade,
                tags=body.tags,
                description=body.description,
                privacy_unit=body.privacy_unit,
                public_keys=body.public_keys,
                overrides=body.overrides,
                public_keys_confirm_reason=body.public_keys_confirm_reason,
                group_size_bands={c: b.model_dump() for c, b in body.group_size_bands.items()},
                hierarchies=body.hierarchies,
            ),
        )
    finally:
        upload.unlink(missing_ok=True)
    return _view(dataset, who, sandbox)


@router.post("/datasets/propose")
def propose(
    who: Caller,
    sandbox: SandboxDep,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030/GBK, header row) or Parquet")
    ],
) -> dict[str, ProposalPublic]:
    """Proposed column tags for a file, with evidence; nothing is stored (steward)."""
    check_role(who.role, Role.STEWARD)
    upload = sandbox.settings.data_dir / "uploads" / f"{uuid.uuid4().hex}.upload"
    try:
        catalog.copy_upload(file.file, upload, sandbox.settings.max_upload_bytes)
        proposals = catalog.propose(upload, sandbox.settings)
    finally:
        upload.unlink(missing_ok=True)
    return {
        c: ProposalPublic(tag=p.tag, rule=p.rule, evidence=p.evidence) for c, p in proposals.items()
    }


@router.get("/datasets")
def list_datasets(who: Caller, sandbox: SandboxDep) -> list[DatasetPublic]:
    """The catalog: schema, tags, row counts (exact ones for stewards and auditors only).

    Withdrawn datasets stay listed, as tombstones, for everyone but operators.
    """
    with sandbox.db.session() as session:
        return [_view(d, who, sandbox) for d in visible(who.role, catalog.list_all(session))]


@router.get("/datasets/{name}")
def get_dataset(name: str, who: Caller, sandbox: SandboxDep) -> DatasetPublic:
    """One dataset's metadata (a withdrawn one: not found for operators)."""
    with sandbox.db.session() as session:
        dataset = catalog.get(session, name)
        if not visible(who.role, [dataset]):
            raise NotFound(f"no dataset named '{name}'")
        return _view(dataset, who, sandbox)


@router.post("/datasets/{name}/withdraw")
def withdraw(name: str, body: DatasetWithdraw, who: Caller, sandbox: SandboxDep) -> DatasetPublic:
    """Withdraw a dataset (steward of its bureau): grants including it end, queued jobs on
    it fail, outputs awaiting review can no longer be approved, its files are deleted;
    the catalog keeps a tombstone and released products stay downloadable."""
    dataset = do_withdraw(sandbox.db, sandbox.settings, who, name, body.reason)
    return _view(dataset, who, sandbox)
