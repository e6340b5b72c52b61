"""Packages for data trading venues (art. 40): what one holds and how its key is named.

A released product may be offered on a data trading venue (数据交易场所, art. 40).
The sandbox exports it as one zip that the venue, or anyone who buys the product,
checks offline: the product, its release manifest signed by the data bureau's
deployment (Ed25519, RFC 8032), the public key with its fingerprint, and a README
in Chinese and English saying how to check them. The service writes packages
(:mod:`sandbox.airlock.export`); the light client reads them
(:mod:`sandbox.client.verify`); both take the layout from here.

>>> product_member("job-7.parquet")
'product/job-7.parquet'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from policies.errors import InvalidRequest

#: The package format, named in the README.
FORMAT = "data-sandbox/venue-package-v1"
#: The release manifest as signed: canonical JSON (:func:`signed_bytes`), nothing else.
MANIFEST = "manifest.json"
#: The manifest's Ed25519 signature, base64 (as ``GET /v1/jobs/{id}/manifest`` gives it).
SIGNATURE = "manifest.sig"
#: The verification key, PEM (SubjectPublicKeyInfo).
PUBLIC_KEY = "public_key.pem"
#: :func:`key_fingerprint` of the key, one line.
FINGERPRINT = "public_key.sha256"
#: How to check the package, in Chinese and English.
README = "README.md"
#: The folder of the product (the file the manifest's ``output.file`` names).
PRODUCT_DIR = "product/"
#: Every member but the product.
FIXED_MEMBERS = (README, MANIFEST, SIGNATURE, PUBLIC_KEY, FINGERPRINT)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----")


def product_member(file_name: str) -> str:
    """The member that holds the product named ``file_name`` in the manifest."""
    return PRODUCT_DIR + file_name


def signed_bytes(manifest: dict[str, Any]) -> bytes:
    """The bytes a manifest's signature covers: canonical JSON (sorted keys, compact
    separators, UTF-8, no NaN), as the service signs them.

    >>> signed_bytes({"b": 1, "a": "城"}).decode()
    '{"a":"城","b":1}'
    """
    return json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def key_fingerprint(pem: str) -> str:
    """The key's fingerprint: SHA-256 of its DER SubjectPublicKeyInfo, 64 hex digits.

    The same as ``openssl pkey -pubin -in public_key.pem -outform DER | openssl dgst
    -sha256``, so a venue can compute it without this software.

    Raises:
        InvalidRequest: ``pem`` is not one PEM public key.
    """
    found = _PEM.fullmatch(pem.strip())
    if found is None:
        raise InvalidRequest("not a PEM public key (-----BEGIN PUBLIC KEY----- …)")
    try:
        der = base64.b64decode("".join(found.group(1).split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidRequest("the PEM public key's body is not base64") from err
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """A fingerprint as written by a person: case, colons, spaces and a ``SHA256:``
    prefix do not matter.

    >>> normalize_fingerprint("SHA256:AB:CD" + "0" * 60)
    'abcd000000000000000000000000000000000000000000000000000000000000'

    Raises:
        InvalidRequest: Not 64 hexadecimal digits once cleaned.
    """
    cleaned = re.sub(r"[\s:]", "", text.strip().lower().removeprefix("sha256:"))
    if not _HEX64.fullmatch(cleaned):
        raise InvalidRequest(
            "a key fingerprint is 64 hexadecimal digits (SHA-256), as `sandbox verify` prints it"
        )
    return cleaned
