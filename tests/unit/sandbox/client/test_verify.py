"""Trading-venue packages checked offline: an untouched package verifies, every tampering
is caught (product byte, manifest, signature, key, fingerprint, members), and the
package README's OpenSSL and Python recipes check it by hand."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policies import venues as V
from policies.errors import InvalidRequest, NotFound
from sandbox.airlock.export import build_package
from sandbox.audit import signing
from sandbox.audit.chain import canonical_json
from sandbox.client.cli import main
from sandbox.client.verify import CryptographyMissing, report_lines, verify_package

SECRET = b"venue-test-secret-" + b"k" * 40
OTHER = b"someone-else-secret-" + b"x" * 40
PRODUCT = b"PAR1 released table bytes \x00\x01\x02"


def _manifest(product: bytes = PRODUCT) -> dict[str, Any]:
    import hashlib

    return {
        "version": 1,
        "job_id": 7,
        "kind": "aggregate",
        "organisation": "firm",
        "purpose": "收入统计",
        "privacy": {"epsilon": 0.5, "delta": 0.0},
        "approved_at": "2026-12-01T08:00:00+00:00",
        "output": {"file": "job-7.parquet", "sha256": hashlib.sha256(product).hexdigest()},
    }


def _package(tmp_path: Path, secret: bytes = SECRET, name: str = "job-7-venue.zip") -> Path:
    manifest = _manifest()
    product = tmp_path / "job-7.parquet"
    product.write_bytes(PRODUCT)
    content = build_package(
        manifest, signing.sign(secret, manifest), signing.public_key_pem(secret), product
    )
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _rewrite(
    source: Path, changes: dict[str, bytes | None], extra: dict[str, bytes] | None = None
) -> Path:
    """A copy of ``source`` with members replaced (bytes) or left out (None)."""
    target = source.with_name("tampered.zip")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    out.writestr(info, changes[info.filename] or b"")
            else:
                out.writestr(info, src.read(info))
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return target


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def test_verify_when_package_untouched_then_ok_with_the_keys_fingerprint(tmp_path: Path):
    path = _package(tmp_path)
    check = verify_package(path)
    expected = V.key_fingerprint(signing.public_key_pem(SECRET))
    assert check.ok, check.problems
    assert (check.job_id, check.organisation, check.product) == (7, "firm", "product/job-7.parquet")
    assert check.fingerprint == expected and not check.compared
    lines = report_lines(check)
    assert lines[0].startswith("校验通过 verified") and expected in lines[1]
    assert "compare it with the fingerprint" in lines[2]
    # the bureau's fingerprint, as a person might paste it
    pasted = "SHA256:" + ":".join(re.findall("..", expected.upper()))
    assert verify_package(path, pasted).ok


def _flip_product_byte(path: Path) -> Path:
    data = bytearray(_member(path, "product/job-7.parquet"))
    data[-1] ^= 1
    return _rewrite(path, {"product/job-7.parquet": bytes(data)})


def _change_manifest(path: Path) -> Path:
    manifest = json.loads(_member(path, V.MANIFEST))
    manifest["privacy"]["epsilon"] = 0.05  # a smaller ε reads as a safer product
    return _rewrite(path, {V.MANIFEST: canonical_json(manifest)})


def _swap_key(path: Path) -> Path:
    # another deployment's key and its fingerprint; the signature is left as it was
    pem = signing.public_key_pem(OTHER)
    return _rewrite(
        path, {V.PUBLIC_KEY: pem.encode(), V.FINGERPRINT: V.key_fingerprint(pem).encode()}
    )


def _swap_key_only(path: Path) -> Path:
    return _rewrite(path, {V.PUBLIC_KEY: signing.public_key_pem(OTHER).encode()})


def _change_signature(path: Path) -> Path:
    forged = signing.sign(OTHER, json.loads(_member(path, V.MANIFEST)))
    return _rewrite(path, {V.SIGNATURE: forged.encode()})


def _drop_signature(path: Path) -> Path:
    return _rewrite(path, {V.SIGNATURE: None})


def _add_member(path: Path) -> Path:
    return _rewrite(path, {}, extra={"product/job-7-fixed.parquet": b"other rows"})


def _duplicate_key(path: Path) -> Path:
    raw = _member(path, V.MANIFEST)
    return _rewrite(path, {V.MANIFEST: raw[:-1] + b',"job_id":8}'})


def _respell_manifest(path: Path) -> Path:
    # the same JSON object spelt otherwise (pretty-printed): Python reads the same values,
    # but these are not the bytes that were signed (OpenSSL's check of them fails)
    raw = _member(path, V.MANIFEST).decode()
    respelt = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    return _rewrite(path, {V.MANIFEST: respelt.encode()})


def _huge_number(path: Path) -> Path:
    raw = _member(path, V.MANIFEST)
    return _rewrite(path, {V.MANIFEST: raw[:-1] + b',"x":1e400}'})


def _not_a_zip(path: Path) -> Path:
    target = path.with_name("broken.zip")
    target.write_bytes(path.read_bytes()[:100])
    return target


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (_flip_product_byte, "its SHA-256 differs"),  # one byte of the product
        (_change_manifest, "the signature does not hold"),  # a signed field edited
        (_swap_key, "the signature does not hold"),  # another key, and its fingerprint
        (_swap_key_only, "is not the fingerprint of"),  # another key, the old fingerprint
        (_change_signature, "the signature does not hold"),  # signed by someone else
        (_drop_signature, "missing from the package: manifest.sig"),
        (_add_member, "files the signature does not cover"),  # an unsigned extra product
        (_duplicate_key, "is not a JSON object"),  # two readings of one manifest
        (_respell_manifest, "is not the bytes that were signed"),  # reformatted
        (_huge_number, "holds numbers no signed manifest holds"),  # 1e400: no traceback
        (_not_a_zip, "not a zip archive"),  # truncated in transit
    ],
)
def test_verify_when_package_tampered_then_not_ok_and_says_what(
    tmp_path: Path, tamper: Callable[[Path], Path], problem: str
):
    check = verify_package(tamper(_package(tmp_path)))
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems
    assert report_lines(check)[0].startswith("校验失败 NOT verified")


def test_verify_when_resigned_with_another_key_then_only_the_fingerprint_catches_it(
    tmp_path: Path,
):
    # whoever can rewrite the package can sign it again with a key of their own
    original = _package(tmp_path)
    forged = _package(tmp_path, secret=OTHER, name="forged.zip")
    assert verify_package(forged).ok
    bureau = verify_package(original).fingerprint
    assert bureau is not None
    check = verify_package(forged, bureau)
    assert not check.ok and check.compared
    assert any("not the one whose fingerprint was given" in p for p in check.problems)


def test_verify_when_arguments_unusable_then_raises(tmp_path: Path):
    with pytest.raises(NotFound, match="no package at"):
        verify_package(tmp_path / "absent.zip")
    with pytest.raises(InvalidRequest, match="64 hexadecimal digits"):
        verify_package(_package(tmp_path), "abc")


def test_verify_when_cryptography_missing_then_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    path = _package(tmp_path)
    for name in [n for n in sys.modules if n.split(".")[0] == "cryptography"] + ["cryptography"]:
        monkeypatch.setitem(sys.modules, name, None)  # every import of it fails
    with pytest.raises(CryptographyMissing, match=r"data-sandbox-client\[verify\]"):
        verify_package(path)
    assert main(["verify", str(path)]) == 2
    assert "pip install" in capsys.readouterr().err


def test_signed_bytes_when_compared_then_same_as_the_services_canonical_json():
    manifest = _manifest() | {"purpose": "城市 \u2028 line", "n": [1.5, 10**20, None, True]}
    assert V.signed_bytes(manifest) == canonical_json(manifest)


def test_sandbox_client_when_run_then_exit_codes_say_verified_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = _package(tmp_path)
    assert main(["verify", str(path)]) == 0
    assert "校验通过 verified" in capsys.readouterr().out
    assert main(["verify", str(_flip_product_byte(path))]) == 1
    assert "its SHA-256 differs" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "absent.zip")]) == 2
    assert "no package at" in capsys.readouterr().err
    assert main(["verify", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    with pytest.raises(SystemExit) as help_exit:
        main(["--help"])
    assert help_exit.value.code == 0 and "verify" in capsys.readouterr().out


def _readme_block(readme: str, language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", readme, re.S)
    assert found is not None, language
    return found.group(1)


def test_readme_when_followed_by_hand_then_python_and_openssl_verify(tmp_path: Path):
    path = _package(tmp_path)
    folder = tmp_path / "package"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    readme = (folder / V.README).read_text(encoding="utf-8")
    assert readme.index("## 中文") < readme.index("## English")  # Chinese first
    fingerprint = V.key_fingerprint(signing.public_key_pem(SECRET))
    assert fingerprint in readme
    run = subprocess.run(
        [sys.executable, "-c", _readme_block(readme, "python")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert fingerprint in run.stdout
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the Python recipe was checked")
    script = _readme_block(readme, "sh").split("\n", 1)[1]  # without the unzip line
    shell = subprocess.run(
        ["sh", "-ec", script], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    assert fingerprint in shell.stdout and "Signature Verified Successfully" in shell.stdout
    (folder / V.MANIFEST).write_bytes((folder / V.MANIFEST).read_bytes().replace(b"0.5", b"0.6"))
    tampered = subprocess.run(
        ["sh", "-ec", script], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert tampered.returncode != 0
