"""Signed manifests: Ed25519 over canonical JSON (RFC 8032).

The signing key is derived from the deployment secret with HKDF-SHA256
(RFC 5869), so it needs no extra file and rotates with the secret; the
public key is published at ``GET /v1/manifests/public-key`` and anyone
holding it can verify a release without the service.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sandbox.audit.chain import canonical_json


def signing_key(secret: bytes) -> Ed25519PrivateKey:
    """The manifest signing key of a deployment."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"data-sandbox manifest signing v1"
    ).derive(secret)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_pem(secret: bytes) -> str:
    """The verification key, PEM (SubjectPublicKeyInfo)."""
    return (
        signing_key(secret)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(secret: bytes, manifest: dict[str, Any]) -> str:
    """Base64 Ed25519 signature of the manifest's canonical JSON."""
    return base64.b64encode(signing_key(secret).sign(canonical_json(manifest))).decode()


def verify(public_pem: str, manifest: dict[str, Any], signature: str) -> bool:
    """Whether ``signature`` is a valid signature of ``manifest`` under the key."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        raw = base64.b64decode(signature, validate=True)
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(raw, canonical_json(manifest))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True
