"""Manifest signatures (Ed25519 over canonical JSON) and the audit log's entry hash."""

from __future__ import annotations

import base64
import copy
import math
from typing import Any

import pytest

from sandbox.audit.chain import GENESIS, canonical_json, entry_hash
from sandbox.audit.signing import public_key_pem, sign, signing_key, verify

SECRET = b"k" * 48
OTHER_SECRET = b"j" * 48
MANIFEST: dict[str, Any] = {
    "job_id": 12,
    "dataset": "residents",
    "epsilon": 0.5,
    "sha256": "ab" * 32,
    "reviewer": "steward",
    "released_at": "2026-01-01T00:00:00+00:00",
    "columns": ["city", "count"],
    "checks": {"pii": "pass", "min_cell": 10},
}


def test_sign_when_verified_with_own_public_key_then_valid() -> None:
    signature = sign(SECRET, MANIFEST)
    assert len(base64.b64decode(signature)) == 64  # an Ed25519 signature
    assert verify(public_key_pem(SECRET), MANIFEST, signature)


def test_sign_when_keys_reordered_then_same_signature() -> None:
    reordered = dict(reversed(list(MANIFEST.items())))
    assert sign(SECRET, reordered) == sign(SECRET, MANIFEST)
    assert verify(public_key_pem(SECRET), reordered, sign(SECRET, MANIFEST))


def test_signing_key_when_same_secret_then_same_key_and_other_secret_other_key() -> None:
    assert public_key_pem(SECRET) == public_key_pem(SECRET)
    assert public_key_pem(SECRET) != public_key_pem(OTHER_SECRET)
    assert public_key_pem(SECRET).startswith("-----BEGIN PUBLIC KEY-----")
    # sign() is the derived key over the canonical bytes (Ed25519 is deterministic)
    raw = signing_key(SECRET).sign(canonical_json(MANIFEST))
    assert base64.b64encode(raw).decode() == sign(SECRET, MANIFEST)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("job_id",), 13),  # another job
        (("dataset",), "residents2"),  # another dataset
        (("epsilon",), 0.5000001),  # a sliver more ε
        (("sha256",), "ab" * 31 + "ac"),  # one byte of the product's hash
        (("reviewer",), "someone"),
        (("released_at",), "2026-01-01T00:00:01+00:00"),
        (("columns",), ["count", "city"]),  # list order matters
        (("checks", "pii"), "fail"),  # a nested field
        (("checks", "min_cell"), 9),
    ],
)
def test_verify_when_manifest_field_changed_then_invalid(path: tuple[str, ...], value: Any) -> None:
    signature = sign(SECRET, MANIFEST)
    changed = copy.deepcopy(MANIFEST)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not verify(public_key_pem(SECRET), changed, signature)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m | {"extra": 1},  # a field added
        lambda m: {k: v for k, v in m.items() if k != "epsilon"},  # a field removed
    ],
)
def test_verify_when_fields_added_or_removed_then_invalid(change: Any) -> None:
    assert not verify(public_key_pem(SECRET), change(MANIFEST), sign(SECRET, MANIFEST))


def test_verify_when_signed_with_other_secret_then_invalid() -> None:
    assert not verify(public_key_pem(SECRET), MANIFEST, sign(OTHER_SECRET, MANIFEST))
    assert not verify(public_key_pem(OTHER_SECRET), MANIFEST, sign(SECRET, MANIFEST))


def test_verify_when_signature_corrupted_then_invalid() -> None:
    raw = bytearray(base64.b64decode(sign(SECRET, MANIFEST)))
    raw[0] ^= 1
    pem = public_key_pem(SECRET)
    assert not verify(pem, MANIFEST, base64.b64encode(bytes(raw)).decode())
    assert not verify(pem, MANIFEST, "AAAA")  # too short
    assert not verify(pem, MANIFEST, "")


def test_verify_when_manifest_has_nan_then_invalid_not_raised() -> None:
    assert not verify(
        public_key_pem(SECRET), MANIFEST | {"epsilon": math.nan}, sign(SECRET, MANIFEST)
    )


# --- canonical_json -----------------------------------------------------------------------


def test_canonical_json_when_keys_in_any_order_then_same_bytes() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": None}, "c": "城"}
    b = {"c": "城", "a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) == '{"a":{"x":null,"y":[1,2]},"b":1,"c":"城"}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        math.nan,  # NaN has no JSON form
        math.inf,  # nor has infinity
        -math.inf,
        {"epsilon": math.nan},  # nested
        [1.0, math.inf],
    ],
)
def test_canonical_json_when_not_finite_then_value_error(value: Any) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json(value)


# --- entry_hash ---------------------------------------------------------------------------

ENTRY: dict[str, Any] = {
    "seq": 7,
    "at": "2026-01-01T00:00:00.000000+00:00",
    "actor": "user:steward",
    "action": "job.release",
    "subject": "job:12",
    "details": {"epsilon": 0.5, "reason": "checked"},
    "prev_hash": GENESIS,
}


def test_entry_hash_when_same_fields_then_same_sha256_hex() -> None:
    digest = entry_hash(**ENTRY)
    assert digest == entry_hash(**copy.deepcopy(ENTRY))
    assert len(digest) == 64 and int(digest, 16) >= 0
    # details in another key order hash the same
    assert entry_hash(**ENTRY | {"details": {"reason": "checked", "epsilon": 0.5}}) == digest


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 8),  # a renumbered entry
        ("at", "2026-01-01T00:00:00.000001+00:00"),  # a microsecond later
        ("actor", "user:operator"),  # someone else
        ("action", "job.reject"),  # another action
        ("subject", "job:13"),  # another object
        ("details", {"epsilon": 0.5, "reason": "checkeD"}),  # one character of the details
        ("details", {"epsilon": 0.5}),  # a detail removed
        ("prev_hash", "0" * 63 + "1"),  # chained to another predecessor
    ],
)
def test_entry_hash_when_any_field_changes_then_hash_changes(field: str, value: Any) -> None:
    assert entry_hash(**ENTRY | {field: value}) != entry_hash(**ENTRY)


def test_entry_hash_when_the_mac_key_fingerprint_changes_then_hash_changes() -> None:
    # Entries written before MACs (no fingerprint) keep the hash they were written with.
    assert entry_hash(**ENTRY | {"mac_key_id": None}) == entry_hash(**ENTRY)
    keyed = entry_hash(**ENTRY | {"mac_key_id": "0123456789abcdef"})
    assert keyed != entry_hash(**ENTRY)
    assert keyed != entry_hash(**ENTRY | {"mac_key_id": "0123456789abcdee"})


def test_entry_hash_when_details_not_finite_then_value_error() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        entry_hash(**ENTRY | {"details": {"epsilon": math.inf}})


def test_audit_mac_key_when_derived_then_stable_and_apart_from_the_signing_key() -> None:
    from cryptography.hazmat.primitives import serialization

    from sandbox.audit.chain import entry_mac, key_id, mac_key

    key = mac_key(SECRET)
    seed = signing_key(SECRET).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert key == mac_key(SECRET) and len(key) == 32
    assert key not in (seed, SECRET) and key != mac_key(OTHER_SECRET)
    assert key_id(key) != key_id(mac_key(OTHER_SECRET)) and len(key_id(key)) == 16
    digest = entry_hash(1, "t", "a", "x", "s", {}, GENESIS)
    assert entry_mac(key, 1, digest) != entry_mac(key, 2, digest)  # the position is MACed
    assert entry_mac(key, 1, digest) != entry_mac(mac_key(OTHER_SECRET), 1, digest)
