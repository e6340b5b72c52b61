"""What a dataset and its queries use of each other and of the client, as protocols.

:class:`sandbox.client.Client` makes :class:`~sandbox.client.catalog.Dataset` objects,
and a dataset makes queries, which submit through the client again. Typing the
dataset's client and the query's dataset by these protocols, not by the classes,
keeps every import pointing one way: core → catalog → query → protocols → job,
results, schema. What a :class:`~sandbox.client.job.Job` uses of its client is
:class:`sandbox.client.job.Transport`, beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sandbox.client.job import Job
from sandbox.client.results import Estimate
from sandbox.client.schema import Column


class Service(Protocol):
    """What a dataset's queries use of the client they came from (a :class:`Client`)."""

    def grant_for(self, dataset: str, kind: str, grant: int | None = None) -> int: ...

    def estimate(
        self,
        grant_id: int,
        spec: Mapping[str, Any],
        *,
        expected_group_size: int | None = None,
    ) -> Estimate: ...

    def submit(self, grant_id: int, spec: Mapping[str, Any], purpose: str = "") -> Job: ...


class QueriedDataset(Protocol):
    """What a query uses of its dataset (a :class:`~sandbox.client.catalog.Dataset`)."""

    @property
    def name(self) -> str: ...

    @property
    def columns_by_name(self) -> dict[str, Column]: ...

    @property
    def privacy_unit(self) -> str | None: ...

    @property
    def public_keys(self) -> dict[str, list[Any]]: ...

    @property
    def client(self) -> Service: ...
