"""Keyed pseudonyms: HMAC-SHA256 with the deployment secret, per-column domain separation.

A plain hash of an 18-digit resident ID is no pseudonym: the space of valid
IDs is small enough to hash exhaustively. A keyed PRF (HMAC, RFC 2104) with
the per-deployment secret is (DESIGN.md, "Keyed pseudonyms"). Each column
gets its own key, ``HMAC(secret, label || domain)``, so the same phone number
in two columns yields unrelated pseudonyms unless the steward names the same
``domain`` for both (to keep them joinable on purpose).

Why not a polars expression: polars has no keyed cryptographic hash. Its
``Expr.hash`` is a fast non-cryptographic hash whose output may change between
versions and which is not a PRF, so anyone could invert it by enumeration.
Python's :mod:`hmac` runs over ``Series.unique()`` only, one call per distinct
value, and the result is joined back with ``replace_strict``: the cost scales
with the distinct values, not the cells, and no per-cell Python runs.

Outputs:

- ``hex``: the first ``length`` hex digits of the tag (default 16 = 64 bits:
  collisions stay below 1e-5 for ten million distinct values);
- ``format``: the value's shape kept: digits to digits, ASCII letters to
  letters of the same case, CJK ideographs to ideographs, anything else
  (separators, ``@``, ``.``) kept, so a resident ID stays an 18-character
  ID-shaped string. Short values have few possible pseudonyms and may
  collide. The check character of an ID is not recomputed, so a pseudonym
  passes as a real ID only by chance (a valid birth date and check digit:
  about 1 in 25,000), which is when the output scanner would flag it; the
  ``hex`` output never looks like an ID.

References:
    H. Krawczyk, M. Bellare, R. Canetti. HMAC: keyed-hashing for message
    authentication. RFC 2104, 1997.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import polars as pl
from pydantic import Field

from anonymize.errors import AnonymizationError
from anonymize.transforms._base import Context, Operator

#: Versioned label: changing how pseudonyms are derived must change this label.
_LABEL = b"data-sandbox/pseudonym/v1\x00"
MIN_SECRET_BYTES = 16

# Character classes of the format-preserving output: (first code point, size).
_DIGITS = (ord("0"), 10)
_UPPER = (ord("A"), 26)
_LOWER = (ord("a"), 26)
_CJK = (0x4E00, 0x9FA5 - 0x4E00 + 1)  # CJK Unified Ideographs, the GB 2312-era block


def column_key(secret: bytes, domain: str) -> bytes:
    """The key of one pseudonym domain (usually one column), derived from the secret.

    Raises:
        AnonymizationError: The secret is too short to key a PRF.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise AnonymizationError(
            f"the pseudonym secret must have at least {MIN_SECRET_BYTES} bytes: "
            "pass Settings.secret()"
        )
    return hmac.new(secret, _LABEL + domain.encode(), hashlib.sha256).digest()


def _hex(key: bytes, value: str, length: int) -> str:
    return hmac.new(key, b"H" + value.encode(), hashlib.sha256).hexdigest()[:length]


def _class_of(char: str) -> tuple[int, int] | None:
    if "0" <= char <= "9":
        return _DIGITS
    if "A" <= char <= "Z":
        return _UPPER
    if "a" <= char <= "z":
        return _LOWER
    if 0x4E00 <= ord(char) <= 0x9FA5:
        return _CJK
    return None


def _format(key: bytes, value: str) -> str:
    """Shape-keeping pseudonym: each letter, digit, ideograph drawn from its own class."""
    classes = [_class_of(c) for c in value]
    bits = sum(size.bit_length() for _, size in filter(None, classes)) + 128  # 128: no bias
    stream = b"".join(
        hmac.new(key, b"F" + i.to_bytes(4, "big") + value.encode(), hashlib.sha256).digest()
        for i in range(-(-bits // 256))
    )
    number = int.from_bytes(stream, "big")
    out = []
    for char, cls in zip(value, classes, strict=True):
        if cls is None:
            out.append(char)
        else:
            number, offset = divmod(number, cls[1])
            out.append(chr(cls[0] + offset))
    return "".join(out)


def pseudonymize(
    values: pl.Series,
    secret: bytes,
    *,
    domain: str,
    output: Literal["hex", "format"] = "hex",
    length: int = 16,
) -> pl.Expr:
    """An expression mapping each value of ``values`` to its keyed pseudonym.

    Args:
        values: The column to pseudonymize (any type; compared as text).
        secret: The deployment secret (``Settings.secret()``).
        domain: Separates keys: the same value in two domains gets unrelated
            pseudonyms. Usually the column name.
        output: ``hex`` or ``format`` (see the module docstring).
        length: Hex digits kept for ``hex`` output.

    Returns:
        A string expression named like the column; nulls stay null.

    Raises:
        AnonymizationError: The secret is too short.

    >>> frame = pl.DataFrame({"phone": ["13912345678", None]})
    >>> out = frame.select(pseudonymize(frame["phone"], b"k" * 32, domain="phone"))
    >>> [len(v) if v else v for v in out["phone"]]
    [16, None]
    """
    key = column_key(secret, domain)
    distinct = values.cast(pl.String).drop_nulls().unique()
    if output == "hex":
        mapped = [_hex(key, v, length) for v in distinct]  # one HMAC per distinct value
    else:
        mapped = [_format(key, v) for v in distinct]
    return (
        pl.col(values.name)
        .cast(pl.String)
        .replace_strict(distinct, pl.Series(mapped, dtype=pl.String), default=None)
        .alias(values.name)
    )


class Pseudonym(Operator):
    """Replace each value by its keyed HMAC-SHA256 pseudonym."""

    op: Literal["pseudonym"] = "pseudonym"
    #: Key domain; defaults to the column name. Equal domains make columns joinable.
    domain: str | None = Field(default=None, min_length=1)
    output: Literal["hex", "format"] = "hex"
    length: int = Field(default=16, ge=8, le=64)

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        return pseudonymize(
            frame[column],
            context.secret,
            domain=self.domain or column,
            output=self.output,
            length=self.length,
        )
