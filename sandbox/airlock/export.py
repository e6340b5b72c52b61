"""Export a released product for a data trading venue (art. 40), audited.

The package (layout in :mod:`policies.venues`) is one zip: the product as
released, its manifest exactly as signed (canonical JSON) with the Ed25519
signature, the public key and its fingerprint, and a README in Chinese and
English saying how to check them offline (``sandbox verify``, ``sandbox-client
verify``, or by hand with OpenSSL or Python). It is built by the service, so the
``output.export`` audit entry (who, which job, the package's SHA-256) is written
where the audit chain lives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from policies import venues as V
from policies.airlock import JobStatus, check_can_export
from policies.errors import InternalError, NotFound
from policies.grants import GrantState, in_force
from sandbox.access.auth import Principal
from sandbox.airlock.review import download
from sandbox.audit import chain as audit
from sandbox.audit import signing
from sandbox.jobs.answer_cache import answer_source
from sandbox.jobs.lifecycle import visible_job
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Release, utcnow

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Package:
    """An export package and what names it."""

    content: bytes
    sha256: str
    filename: str


def export(db: Database, settings: Settings, who: Principal, job_id: int) -> Package:
    """Build the trading-venue package of a released job; audited (``output.export``).

    Args:
        db: The store.
        settings: Where the released files are, and the deployment secret (its key).
        who: The caller: the grantee organisation's operator or a steward of the
            bureau owning the inputs (:func:`policies.airlock.check_can_export`).
        job_id: The job.

    Returns:
        The package's bytes, SHA-256 and file name (``job-N-venue.zip``).

    Raises:
        NotFound: No such job (or another organisation's, for an operator), or no release.
        PolicyViolation: Not released, or the caller may not download the product.
    """
    with db.session() as session:
        job = visible_job(session, who, job_id)
        grant = job.grant
        active = in_force(GrantState(grant.state), grant.expires_at, utcnow())
        check_can_export(who.role, who.org_id, job.org_id, JobStatus(job.status), active)
        release = session.scalar(select(Release).where(Release.job_id == answer_source(job)))
        if release is None:
            raise NotFound("the job has no release")
        manifest, signature = dict(release.manifest), release.signature
    # the download's own checks (a steward's bureau), the published file, its hash: audited
    product = download(db, who, job_id, settings)
    if product.sha256 != manifest.get("output", {}).get("sha256"):
        raise InternalError("the released file is not the one its manifest names")
    pem = signing.public_key_pem(settings.secret())
    content = build_package(manifest, signature, pem, product.path)
    digest = hashlib.sha256(content).hexdigest()
    with db.session() as session:
        audit.append(
            db,
            session,
            who.actor,
            "output.export",
            f"job:{job_id}",
            package_sha256=digest,
            product_sha256=product.sha256,
            manifest_sha256=hashlib.sha256(V.signed_bytes(manifest)).hexdigest(),
            key_fingerprint=V.key_fingerprint(pem),
        )
    return Package(content, digest, f"job-{job_id}-venue.zip")


def build_package(manifest: dict[str, Any], signature: str, pem: str, product: Path) -> bytes:
    """The zip of a release: README, manifest (the signed bytes), signature, key,
    fingerprint and the product, each member dated at the approval.

    Args:
        manifest: The release manifest as signed.
        signature: Its base64 Ed25519 signature.
        pem: The verification key (PEM).
        product: The released file (its member name is the manifest's ``output.file``).
    """
    fingerprint = V.key_fingerprint(pem)
    when = _zip_time(str(manifest.get("approved_at", "")))
    members: list[tuple[str, bytes]] = [
        (V.README, readme(manifest, fingerprint).encode()),
        (V.MANIFEST, V.signed_bytes(manifest)),
        (V.SIGNATURE, signature.encode() + b"\n"),
        (V.PUBLIC_KEY, pem.encode()),
        (V.FINGERPRINT, fingerprint.encode() + b"\n"),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(_info(name, when), data)
        target = _info(V.product_member(str(manifest["output"]["file"])), when)
        with product.open("rb") as src, archive.open(target, "w") as out:
            shutil.copyfileobj(src, out, _CHUNK)
    return buffer.getvalue()


def _info(name: str, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _zip_time(iso: str) -> tuple[int, int, int, int, int, int]:
    """The approval time (UTC) as a zip date; 1980-01-01 when absent (zip's first day)."""
    try:
        at = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)


def readme(manifest: dict[str, Any], fingerprint: str) -> str:
    """How to check the package, Chinese first, English second."""
    output = manifest["output"]
    product = V.product_member(str(output["file"]))
    facts = {
        "job": manifest.get("job_id"),
        "organisation": manifest.get("organisation"),
        "approved_at": manifest.get("approved_at"),
        "product": product,
        "sha256": output["sha256"],
        "fingerprint": fingerprint,
        "format": V.FORMAT,
    }
    return _README.format(**facts)


_README = """\
# 数据产品交易包 / Data product package ({format})

## 中文

本包由数据沙箱导出，供数据交易场所（《江苏省数据条例》第四十条）核验。其中的数据产品已经数据主管部门
审核并发布；发布清单（manifest）由该部署以 Ed25519 签名。

- 任务编号：{job}；运营机构：{organisation}；批准时间（UTC）：{approved_at}
- 数据产品：`{product}`，SHA-256：`{sha256}`
- 公钥指纹（SHA-256）：`{fingerprint}`

文件：`manifest.json`（发布清单，即被签名的规范 JSON 字节）、`manifest.sig`（base64 编码的签名）、
`public_key.pem`（验证公钥）、`public_key.sha256`（公钥指纹）、`{product}`（数据产品）。

核验方法（无需联网）：

1. 工具：`sandbox-client verify 本文件.zip --fingerprint <数据主管部门公布的指纹>`
   （`pip install 'data-sandbox-client[verify]'`），或服务端的 `sandbox verify`。
   退出码 0 表示通过，1 表示包被改动或不完整。
2. 手工（OpenSSL 3）：见下方命令。签名有效、指纹与数据主管部门公布的一致、数据产品的 SHA-256 与
   `manifest.json` 中 `output.sha256` 相同，三者都满足才算通过。

务必把指纹与数据主管部门另行公布的指纹核对（例如由服务 `GET /v1/manifests/public-key`
给出的公钥算出）：能改动本包的人也能用自己的密钥重新签名。

## English

This package was exported by the Data Sandbox for a data trading venue (Jiangsu
Province Data Regulation, art. 40). Its product was reviewed and released by the data
bureau; the release manifest is signed by the deployment with Ed25519.

- Job {job}; operator firm {organisation}; approved at (UTC) {approved_at}
- Product `{product}`, SHA-256 `{sha256}`
- Public key fingerprint (SHA-256) `{fingerprint}`

Files: `manifest.json` (the release manifest: the canonical JSON bytes that were signed),
`manifest.sig` (the signature, base64), `public_key.pem` (the verification key),
`public_key.sha256` (its fingerprint), `{product}` (the product).

How to check it (offline):

1. With the tools: `sandbox-client verify THIS.zip --fingerprint <the bureau's fingerprint>`
   (`pip install 'data-sandbox-client[verify]'`), or `sandbox verify` of the service.
   Exit code 0 means verified, 1 means the package was changed.
2. By hand (OpenSSL 3), below. It verifies only when the signature holds, the
   fingerprint is the one the data bureau publishes, and the product's SHA-256 is
   `output.sha256` of `manifest.json`.

Always compare the fingerprint with the one the data bureau publishes elsewhere (for
example computed from the key the service gives at `GET /v1/manifests/public-key`):
whoever can change this package can also sign it again with a key of their own.

## OpenSSL

```sh
unzip -d package THIS.zip && cd package
openssl pkey -pubin -in public_key.pem -outform DER | openssl dgst -sha256
openssl base64 -d -A -in manifest.sig -out manifest.sig.bin
openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
    -in manifest.json -sigfile manifest.sig.bin
openssl dgst -sha256 {product}
```

## Python (`pip install cryptography`)

```python
import base64, hashlib, json
from cryptography.hazmat.primitives.serialization import load_pem_public_key

key = load_pem_public_key(open("public_key.pem", "rb").read())
signed = open("manifest.json", "rb").read()
key.verify(base64.b64decode(open("manifest.sig", "rb").read()), signed)  # raises if changed
manifest = json.loads(signed)
product = open("product/" + manifest["output"]["file"], "rb").read()
assert hashlib.sha256(product).hexdigest() == manifest["output"]["sha256"], "product changed"
print("verified; key fingerprint", hashlib.sha256(
    base64.b64decode("".join(open("public_key.pem").read().splitlines()[1:-1]))
).hexdigest())
```
"""
