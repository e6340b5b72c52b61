"""The spec of operator code run in a jail: its code and the datasets it reads."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from jobs.spec import SpecModel

__all__ = [
    "MAX_CUSTOM_ARCHIVE_BYTES",
    "MAX_CUSTOM_SOURCE_BYTES",
    "CustomSpec",
    "DatasetName",
    "EntryPoint",
]

#: Largest Python source a custom job may send inline (UTF-8 bytes).
MAX_CUSTOM_SOURCE_BYTES = 1_000_000
#: Largest zip a custom job may send (decoded bytes; base64 adds a third).
MAX_CUSTOM_ARCHIVE_BYTES = 5 * 1024 * 1024
#: A dataset name as the catalog writes it (no slash: it becomes ``/data/<name>.parquet``).
DatasetName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.@-]+$")]
#: A relative path of ``.py`` file whose parts start with a letter, digit or underscore.
EntryPoint = Annotated[
    str,
    Field(
        min_length=4,
        max_length=200,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\.py$",
    ),
]


class CustomSpec(SpecModel):
    """Operator code run in a jail beside the data; see :mod:`jobs.kinds.custom.engine`.

    Exactly one of ``source`` and ``archive`` carries the code. Its outputs
    are never differentially private by construction: they always need review.

    Attributes:
        datasets: Granted datasets the code may read at ``/data/<name>.parquet``.
        source: One Python file (at most 1 MB), run as ``/code/<entrypoint>``.
        archive: A base64 zip (at most 5 MiB) of ``.py`` and small data files,
            unpacked at ``/code``; ``entrypoint`` names the file to run.
        entrypoint: The file to run, relative to ``/code``.
    """

    kind: Literal["custom"]
    datasets: list[DatasetName] = Field(min_length=1, max_length=5)
    source: str | None = Field(default=None, min_length=1, max_length=MAX_CUSTOM_SOURCE_BYTES)
    archive: str | None = Field(
        default=None, min_length=4, max_length=(MAX_CUSTOM_ARCHIVE_BYTES + 2) // 3 * 4
    )
    entrypoint: EntryPoint = "main.py"

    @model_validator(mode="after")
    def _one_code(self) -> Self:
        if (self.source is None) == (self.archive is None):
            raise ValueError("give exactly one of 'source' (a Python file) and 'archive' (a zip)")
        if self.source is not None and len(self.source.encode()) > MAX_CUSTOM_SOURCE_BYTES:
            raise ValueError(f"source is larger than {MAX_CUSTOM_SOURCE_BYTES} bytes")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError("datasets are listed more than once")
        return self
