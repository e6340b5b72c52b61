"""What the checks' tests share: kinds' contexts, demo data, outputs built in a folder.

:data:`KIND_CHECKS` says what each built-in kind tells the checks (its product
and its output formats); ``test_contract`` pins it against :data:`jobs.kinds.KINDS`,
so the checks' tests exercise what the kinds declare.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import polars as pl

from policies.catalog import Product
from sandbox.checks import Check, CheckContext
from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, generate_residents

#: Kind name -> (product, output formats), as ``jobs/kinds/<kind>`` declares them.
KIND_CHECKS: dict[str, tuple[Product, frozenset[str]]] = {
    "aggregate": (Product.STATISTICS, frozenset({"parquet"})),
    "extract": (Product.RECORDS, frozenset({"parquet"})),
    "train": (Product.MODEL, frozenset({"json", "safetensors"})),
    "custom": (Product.PROGRAM_OUTPUT, frozenset({"zip"})),
}


def context_of(kind: str, **fields: Any) -> CheckContext:
    """The check context of a job of the built-in ``kind`` (``fields``: the rest)."""
    product, formats = KIND_CHECKS[kind]
    return CheckContext(kind=kind, product=product, formats=formats, **fields)


RESIDENTS = generate_residents(1000, seed=7)
PUBLIC = {"city": list(JIANGSU_CITIES)}


def job_context(kind: str, inputs: dict[str, str] | None = None, **kw: Any) -> CheckContext:
    """A job of ``kind`` with min_cell 10, over ``inputs`` tagged as the demo tags them."""
    return context_of(
        kind,
        min_cell=10,
        inputs=inputs or {},
        tags={"residents": DEMO_TAGS} if inputs else {},
        **kw,
    )


def verdicts(found: list[Check]) -> dict[str, str]:
    return {c.name: c.verdict for c in found}


def reason_of(found: list[Check], name: str) -> str:
    return next(c.reason for c in found if c.name == name)


def parquet_file(tmp_path: Path, frame: pl.DataFrame, name: str = "out.parquet") -> Path:
    path = tmp_path / name
    frame.write_parquet(path)
    return path


def zip_file(tmp_path: Path, members: dict[str, bytes], name: str = "out.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def csv_bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def png_bytes(extra: bytes = b"", text: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    chunks = [chunk(b"IHDR", header)]
    if text is not None:
        chunks.append(chunk(b"tEXt", b"Comment\x00" + text))
    chunks += [chunk(b"IDAT", zlib.compress(b"\x00\x00")), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + extra


def noisy_aggregate() -> pl.DataFrame:
    """A DP aggregate over the declared cities: noisy counts with error bars."""
    counts = RESIDENTS.group_by("city").len().rename({"len": "count"})
    frame = pl.DataFrame({"city": list(JIANGSU_CITIES)}).join(counts, on="city", how="left")
    noisy = frame.with_columns((pl.col("count").fill_null(0) * 10 + 37).alias("count"))
    return noisy.with_columns(
        (pl.col("count") - 12).alias("count_ci_low"), (pl.col("count") + 12).alias("count_ci_high")
    )


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def extract_frame(k: int = 5) -> pl.DataFrame:
    """A k-anonymous extract as the executor writes it: age bands, cities, sex, raw income."""
    low = (pl.col("age") // 20) * 20
    banded = RESIDENTS.select(
        (low.cast(pl.String) + "-" + (low + 19).cast(pl.String)).alias("age"),
        "city",
        "sex",
        "income",
    )
    return banded.filter(pl.len().over("age", "city", "sex") >= k)
