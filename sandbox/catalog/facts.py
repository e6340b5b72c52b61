"""What the catalog publishes about a dataset's contents: a noisy row count and a keyed digest.

The exact row count and the plain SHA-256 of the stored files are not
private: with the hash, the row count and the project's own writer, one
resident's income was recovered in 50 guesses (write candidate tables,
compare hashes). Operators therefore see neither.

- **Public row count**: drawn once at ingest and stored, so that asking
  again averages nothing away. It is the exact count plus discrete Laplace
  noise of scale 1/ε with ε = :data:`PUBLIC_COUNT_EPSILON` (0.1; the exact
  sampler of :mod:`jobs.dp.mechanisms`), then rounded to
  :data:`PUBLIC_COUNT_DIGITS` significant figures (post-processing, free).
  The noise is sized for one row: a person with k rows is protected at
  ε = 0.1·k by this one-off statistic, on top of what their grants spend.
  The typical error is ±10 rows plus the rounding (under 1 %): enough for
  planning, not for differencing.
- **Keyed digest**: HMAC-SHA256 of the stored files' SHA-256 under a
  sub-key derived from the deployment secret (HKDF-SHA256, label
  :data:`_DIGEST_LABEL`; RFC 5869, RFC 2104). Manifests commit to their
  inputs with it: without the secret nobody can test a guessed table
  against it, and stewards and auditors verify it by recomputing it from
  the stored files (:func:`verify_dataset`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jobs import storage
from jobs.dp.mechanisms import make_rng, sample_discrete_laplace

#: ε of the one-off public row count (one row's presence changes it by one).
PUBLIC_COUNT_EPSILON = 0.1
#: Significant figures the public row count is rounded to.
PUBLIC_COUNT_DIGITS = 2
#: Discrete Laplace scale t/s = 1/ε = 10: P(z) ∝ exp(-|z| / 10).
_NOISE_S, _NOISE_T = 1, 10
_DIGEST_LABEL = b"data-sandbox dataset input digest v1"
#: Name of the digest's construction, as manifests state it.
DIGEST_ALGORITHM = "hmac-sha256(hkdf(secret, 'data-sandbox dataset input digest v1'), sha256)"


def round_significant(value: int, digits: int = PUBLIC_COUNT_DIGITS) -> int:
    """``value`` rounded half up to ``digits`` significant figures, in integers.

    >>> round_significant(1234), round_significant(1250), round_significant(57)
    (1200, 1300, 57)
    """
    if value <= 0:
        return 0
    step = 10 ** max(0, len(str(value)) - digits)
    return int((value + step // 2) // step * step)


def public_row_count(rows: int, seed: int | None = None) -> int:
    """The count operators see: ``rows`` plus exact discrete Laplace noise, rounded.

    Drawn once per dataset at ingest and stored.

    Args:
        rows: The exact row count.
        seed: For tests only; fixes the noise.
    """
    noise = int(sample_discrete_laplace(make_rng(seed), _NOISE_S, _NOISE_T, 1)[0])
    return round_significant(max(0, rows + noise))


def _digest_key(secret: bytes) -> bytes:
    """The sub-key of input digests: never the raw deployment secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DIGEST_LABEL).derive(secret)


def input_digest(secret: bytes, sha256_hex: str) -> str:
    """Keyed digest of a dataset's stored files, from their SHA-256 (hex).

    HMAC is a pseudorandom function: without the key, the digest tells
    nothing about the content and no guessed table can be tested against it.
    """
    return hmac.new(_digest_key(secret), bytes.fromhex(sha256_hex), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class InputCheck:
    """Whether a dataset's stored files still match the catalog and a manifest.

    Attributes:
        name: The dataset.
        digest: The keyed digest recomputed from the stored files.
        files_match_catalog: The files' SHA-256 equals the one recorded at ingest.
        matches: The recomputed digest equals the expected one (a manifest's),
            or ``None`` when none was given.
    """

    name: str
    digest: str
    files_match_catalog: bool
    matches: bool | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "digest": self.digest,
            "files_match_catalog": self.files_match_catalog,
            "matches": self.matches,
        }


def verify_dataset(
    secret: bytes, name: str, path: str, recorded_sha256: str, expected: str | None
) -> InputCheck:
    """Recompute a dataset's keyed digest from its stored files and compare.

    Args:
        secret: The deployment secret.
        name: The dataset's name.
        path: Its folder.
        recorded_sha256: The SHA-256 the catalog recorded at ingest.
        expected: A digest to compare with (e.g. from a manifest), or ``None``.
    """
    actual = content_sha256(path)
    digest = input_digest(secret, actual)
    return InputCheck(
        name=name,
        digest=digest,
        files_match_catalog=hmac.compare_digest(actual, recorded_sha256),
        matches=None if expected is None else hmac.compare_digest(digest, expected),
    )


def dataset_files(path: str | Path) -> list[str]:
    """The Parquet files of a stored dataset (local or in object storage), in partition order."""
    return storage.glob(storage.join(path, "part-*.parquet"))


def content_sha256(path: str | Path) -> str:
    """SHA-256 over the bytes of a dataset's files, in partition order."""
    digest = hashlib.sha256()
    for file in dataset_files(path):
        with storage.open_input(file) as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
