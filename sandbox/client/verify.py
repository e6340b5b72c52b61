"""Check a trading-venue package offline: signature, key fingerprint, product hash.

A package (``sandbox export``; layout in :mod:`policies.venues`) holds a released
product, its manifest signed with Ed25519 (RFC 8032), the public key and its
fingerprint. :func:`verify_package` needs no service and no network: it checks
that the manifest's signature holds under the enclosed key, that the enclosed
fingerprint is that key's (and, given one, the fingerprint the data bureau
publishes), and that the product's SHA-256 is the manifest's. Both
``sandbox verify`` and ``sandbox-client verify`` print :func:`report_lines`.

The signature needs the ``cryptography`` package
(``pip install 'data-sandbox-client[verify]'``); it is imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies import errors as E
from policies import venues as V

#: Bytes read at a time when hashing the product.
_CHUNK = 1 << 20
#: The largest README, manifest, signature, key or fingerprint read (a manifest is a few KB).
MAX_SMALL_MEMBER = 16 << 20


@dataclass(frozen=True, slots=True)
class PackageCheck:
    """What :func:`verify_package` found.

    Attributes:
        problems: Why the package does not verify; empty when it does.
        fingerprint: The enclosed key's fingerprint (64 hex digits), if the key reads.
        job_id: The released job, from the signed manifest.
        organisation: The grantee organisation, from the signed manifest.
        product: The product's member name (``product/job-N.<suffix>``).
        sha256: The product's SHA-256 as the signed manifest records it.
        compared: Whether an expected fingerprint was given and compared.
    """

    problems: tuple[str, ...]
    fingerprint: str | None = None
    job_id: int | None = None
    organisation: str | None = None
    product: str | None = None
    sha256: str | None = None
    compared: bool = False
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return not self.problems


class CryptographyMissing(E.InvalidRequest):
    """The ``cryptography`` package is not installed: nothing was checked."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        # two parsers could read two different manifests out of one file
        raise ValueError("a key appears twice")
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_key(pem: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as err:
        raise CryptographyMissing(
            "checking a signature needs the cryptography package: "
            "pip install 'data-sandbox-client[verify]' (or pip install cryptography)"
        ) from err
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm as err:
        raise ValueError("the key's algorithm is unknown") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the key is not an Ed25519 key")
    return key


def _signature_holds(key: Any, signature_b64: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(base64.b64decode(signature_b64.strip(), validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _sha256(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as member:
        while chunk := member.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_package(path: str | Path, fingerprint: str | None = None) -> PackageCheck:
    """Check a trading-venue package offline.

    Args:
        path: The package (a zip written by ``sandbox export``).
        fingerprint: The key fingerprint the data bureau publishes (64 hex digits;
            colons, spaces and case ignored). Without it, the enclosed key is
            checked against the enclosed fingerprint only: whoever can rewrite
            the package can also sign it with a key of their own, so compare the
            printed fingerprint with the bureau's.

    Returns:
        A :class:`PackageCheck`; ``ok`` when every check held.

    Raises:
        NotFound: ``path`` is not a file.
        InvalidRequest: ``fingerprint`` is not a fingerprint.
        CryptographyMissing: ``cryptography`` is not installed (nothing was checked).
    """
    expected = V.normalize_fingerprint(fingerprint) if fingerprint is not None else None
    path = Path(path)
    if not path.is_file():
        raise E.NotFound(f"no package at {path}: give the path of the exported .zip")
    try:
        with zipfile.ZipFile(path) as archive:
            return _check(archive, expected)
    except (zipfile.BadZipFile, EOFError, zlib.error):
        return PackageCheck(("the file is not a zip archive, or it is damaged",))
    except (RuntimeError, NotImplementedError):  # encrypted members, unknown compression
        return PackageCheck(("the archive uses encryption or a compression zip cannot read",))


def _check(archive: zipfile.ZipFile, expected: str | None) -> PackageCheck:
    names = archive.namelist()
    problems: list[str] = []
    if len(names) != len(set(names)):
        problems.append("the archive holds two members of the same name")
    missing = [m for m in V.FIXED_MEMBERS if m not in names]
    if missing:
        problems.append(f"missing from the package: {', '.join(missing)}")
        return PackageCheck(tuple(problems))
    oversized = [m for m in V.FIXED_MEMBERS if archive.getinfo(m).file_size > MAX_SMALL_MEMBER]
    if oversized:
        problems.append(f"too large to be what it says: {', '.join(oversized)}")
        return PackageCheck(tuple(problems))
    # the key and its fingerprint
    pem = archive.read(V.PUBLIC_KEY)
    found: str | None = None
    key: Any = None
    try:
        found = V.key_fingerprint(pem.decode("ascii"))
        key = _load_key(pem)
    except (E.InvalidRequest, UnicodeDecodeError, ValueError) as err:
        if isinstance(err, CryptographyMissing):
            raise
        problems.append(f"{V.PUBLIC_KEY} is not an Ed25519 public key")
    if found is not None:
        enclosed = archive.read(V.FINGERPRINT).decode("utf-8", "replace")
        try:
            if V.normalize_fingerprint(enclosed) != found:
                problems.append(f"{V.FINGERPRINT} is not the fingerprint of {V.PUBLIC_KEY}")
        except E.InvalidRequest:
            problems.append(f"{V.FINGERPRINT} does not hold a fingerprint")
        if expected is not None and expected != found:
            problems.append(
                "the key is not the one whose fingerprint was given: the package was not "
                "signed by that deployment"
            )
    # the manifest and its signature
    raw = archive.read(V.MANIFEST)
    manifest: dict[str, Any] = {}
    try:
        loaded = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
        if not isinstance(loaded, dict):
            raise ValueError("not an object")
        manifest = loaded
    except (UnicodeDecodeError, ValueError):
        problems.append(f"{V.MANIFEST} is not a JSON object")
    signed: bytes | None = None
    if manifest:
        try:
            signed = V.signed_bytes(manifest)
        except (ValueError, OverflowError, RecursionError):
            problems.append(f"{V.MANIFEST} holds numbers no signed manifest holds")
    if signed is not None and raw != signed:
        # the signature covers these exact bytes: another spelling of the same JSON could be
        # read differently by another parser (and fails the OpenSSL check of the README)
        problems.append(f"{V.MANIFEST} is not the bytes that were signed (it was rewritten)")
    if signed is not None and key is not None:
        if not _signature_holds(key, archive.read(V.SIGNATURE), signed):
            problems.append(
                f"the signature does not hold: {V.MANIFEST} or {V.SIGNATURE} was changed, "
                "or they were signed with another key"
            )
    # the product
    output = manifest.get("output") if manifest else None
    product: str | None = None
    sha256: str | None = None
    if manifest and not (
        isinstance(output, dict)
        and isinstance(output.get("file"), str)
        and isinstance(output.get("sha256"), str)
    ):
        problems.append(f"{V.MANIFEST} names no product (output.file, output.sha256)")
    elif manifest and isinstance(output, dict):
        product, sha256 = V.product_member(output["file"]), str(output["sha256"])
        if product not in names:
            problems.append(f"missing from the package: {product}")
        elif _sha256(archive, product) != sha256:
            problems.append(f"{product} is not the released product: its SHA-256 differs")
    known = {*V.FIXED_MEMBERS, *([product] if product else [])}
    extra = sorted(n for n in set(names) - known if not n.endswith("/"))
    if extra:
        problems.append(
            f"files the signature does not cover: {', '.join(extra)} (not part of the release)"
        )
    job_id = manifest.get("job_id")
    organisation = manifest.get("organisation")
    return PackageCheck(
        tuple(problems),
        fingerprint=found,
        job_id=job_id if isinstance(job_id, int) else None,
        organisation=organisation if isinstance(organisation, str) else None,
        product=product,
        sha256=sha256,
        compared=expected is not None,
        manifest=manifest,
    )


def report_lines(check: PackageCheck) -> list[str]:
    """What the ``verify`` commands print, Chinese first, English second."""
    lines: list[str] = []
    if check.ok:
        lines.append(
            f"校验通过 verified: job {check.job_id} ({check.organisation}), {check.product}, "
            f"SHA-256 {check.sha256}"
        )
    else:
        lines.append("校验失败 NOT verified: the package was changed or is incomplete")
        lines += [f"  - {problem}" for problem in check.problems]
    if check.fingerprint is not None:
        lines.append(f"公钥指纹 key fingerprint (SHA-256): {check.fingerprint}")
        if check.ok and check.compared:
            lines.append("指纹与给定值一致 the fingerprint is the one given")
        elif check.ok:
            lines.append(
                "请与数据主管部门公布的指纹核对 compare it with the fingerprint the data "
                "bureau publishes (or pass --fingerprint)"
            )
    return lines
