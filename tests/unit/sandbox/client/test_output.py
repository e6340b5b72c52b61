"""The client's readers of each job kind's output, against a fake service (no server)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from policies.errors import InternalError, InvalidRequest, PolicyViolation
from sandbox.client import Client
from sandbox.client import output as O


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, f"content of {name}")
    return buffer.getvalue()


def _parquet() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame({"city": ["a", "b"], "age": [30, 40]}).write_parquet(buffer)
    return buffer.getvalue()


def _safetensors(tmp_path: Path) -> bytes:
    path = tmp_path / "m.safetensors"
    weights = {"layer0.weight": np.zeros((4, 2), dtype=np.float32)}
    save_file(weights, str(path), metadata={"format": json.dumps("x"), "model": '"mlp"'})
    return path.read_bytes()


def _service(kind: str, content: bytes, filename: str, status: str = "released") -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs/5":
            return httpx.Response(200, json={"id": 5, "kind": kind, "status": status})
        if request.url.path == "/v1/jobs/5/output":
            headers = {
                "X-Content-SHA256": hashlib.sha256(content).hexdigest(),
                "Content-Disposition": f'attachment; filename="{filename}"',
            }
            return httpx.Response(200, content=content, headers=headers)
        return httpx.Response(404, json={"error": "not_found", "message": "no route"})

    return Client("http://sandbox.test", "t", transport=httpx.MockTransport(answer))


def test_read_files_when_flat_archive_then_name_to_bytes():
    assert O.read_files(_zip("a.csv", "b.png")) == {
        "a.csv": b"content of a.csv",
        "b.png": b"content of b.png",
    }


@pytest.mark.parametrize(
    "name",
    [
        "../escape.csv",  # climbs out of the folder
        "sub/file.csv",  # a path, not a flat name
        "sub\\file.csv",  # a Windows path
        "/etc/passwd",  # absolute
        "C:evil.txt",  # a Windows drive
        "..",  # the parent itself
    ],
)
def test_read_files_when_member_name_is_a_path_then_refused_without_naming_it(name: str):
    with pytest.raises(InternalError, match="1 of 2 files") as caught:
        O.read_files(_zip("ok.csv", name))
    assert name not in str(caught.value).replace("'..'", "")  # the rule quotes '..' itself


def test_read_files_when_larger_than_the_cap_then_refused():
    with pytest.raises(InternalError, match="over 10"):
        O.read_files(_zip("a.csv"), max_bytes=10)


def test_read_files_when_not_a_zip_then_error_says_download():
    with pytest.raises(InternalError, match=r"job.download\(\)"):
        O.read_files(b"not a zip")


@pytest.mark.parametrize(
    ("header", "kind", "suffix"),
    [
        ('attachment; filename="job-3.safetensors"', "train", ".safetensors"),  # from the name
        ("attachment; filename*=utf-8''job-3.json", "train", ".json"),  # RFC 5987 form
        ('attachment; filename="../../x.sh"', "custom", ".zip"),  # unknown suffix: the kind's
        ("", "extract", ".parquet"),  # no header: the kind's
    ],
)
def test_suffix_of_when_header_or_kind_then_a_known_suffix(header: str, kind: str, suffix: str):
    assert O.suffix_of(header, kind) == suffix


def test_suffix_of_when_train_without_header_then_internal_error():
    with pytest.raises(InternalError, match="known file type"):
        O.suffix_of("", "train")


def test_result_when_extract_then_rows_as_polars():
    with _service("extract", _parquet(), "job-5.parquet") as c:
        frame = c.job(5).result()
    assert frame.columns == ["city", "age"] and frame.height == 2


def test_to_pandas_when_pandas_installed_then_same_rows():
    pytest.importorskip("pandas", reason="the pandas extra: pip install 'data-sandbox[pandas]'")
    with _service("extract", _parquet(), "job-5.parquet") as c:
        table = c.job(5).result()
    frame = table.to_pandas()
    assert list(frame.columns) == ["city", "age"] and frame["age"].tolist() == [30, 40]
    assert table.filter(pl.col("age") > 30).height == 1  # still a polars table


def test_to_pandas_when_pandas_missing_then_import_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with _service("extract", _parquet(), "job-5.parquet") as c:
        table = c.job(5).result()
    with pytest.raises(ImportError, match=r"data-sandbox-client\[pandas\]"):
        table.to_pandas()


def test_predictor_when_train_json_released_then_predicts_declared_classes():
    header = {
        "format": "data-sandbox/model-v1",
        "model": "kmeans",
        "features": [{"column": "age", "lower": 0.0, "upper": 100.0}],
        "inputs": ["age"],
        "classes": None,
        "parameters": {"centroids": [[0.1], [0.9]]},
    }
    with _service("train", json.dumps(header).encode(), "job-5.json") as c:
        model = c.job(5).predictor()
    assert model.predict(pl.DataFrame({"age": [5, 95, 20]})).to_list() == [0, 1, 0]


@pytest.mark.parametrize(
    ("kind", "advice"),
    [("train", r"a model; use job.model\(\)"), ("custom", r"zip of files; use job.files\(\)")],
)
def test_result_when_output_is_not_a_table_then_error_names_the_reader(kind: str, advice: str):
    with _service(kind, b"{}", "job-5.json") as c, pytest.raises(InvalidRequest, match=advice):
        c.job(5).result()


def test_model_when_json_then_parsed():
    body = json.dumps({"format": "x", "parameters": {"coef": [[1.0, 2.0]]}}).encode()
    with _service("train", body, "job-5.json") as c:
        assert c.job(5).model()["parameters"]["coef"] == [[1.0, 2.0]]


def test_model_when_safetensors_then_metadata_and_tensor_shapes(tmp_path: Path):
    with _service("train", _safetensors(tmp_path), "job-5.safetensors") as c:
        model = c.job(5).model()
    assert model["model"] == "mlp" and model["format"] == "x"
    assert model["tensors"] == {"layer0.weight": {"dtype": "F32", "shape": [4, 2]}}


def test_model_when_safetensors_missing_then_error_says_pip_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import raises ImportError
    with _service("train", _safetensors(tmp_path), "job-5.safetensors") as c:
        with pytest.raises(InvalidRequest, match="pip install safetensors"):
            c.job(5).model()


def test_files_when_custom_then_members_and_download_keeps_the_zip(tmp_path: Path):
    body = _zip("people.csv")
    with _service("custom", body, "job-5.zip") as c:
        job = c.job(5)
        assert job.files() == {"people.csv": b"content of people.csv"}
        written = job.download(tmp_path)
        with pytest.raises(InvalidRequest, match=r"'custom': its output is a zip of files"):
            job.model()
    assert written == tmp_path / "job-5.zip" and written.read_bytes() == body
    assert [p.name for p in tmp_path.iterdir()] == ["job-5.zip"]  # no temporary file left


def test_download_when_file_path_then_suffix_added_or_checked(tmp_path: Path):
    with _service("extract", _parquet(), "job-5.parquet") as c:
        job = c.job(5)
        assert job.download(tmp_path / "out" / "rows") == tmp_path / "out" / "rows.parquet"
        assert job.download(tmp_path / "rows.parquet").is_file()
        with pytest.raises(InvalidRequest, match=r"is a \.parquet file, not \.csv"):
            job.download(tmp_path / "rows.csv")


def test_download_when_sha256_differs_then_nothing_written(tmp_path: Path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs/5":
            return httpx.Response(200, json={"id": 5, "kind": "extract", "status": "released"})
        return httpx.Response(200, content=b"x", headers={"X-Content-SHA256": "0" * 64})

    with Client("http://s.test", "t", transport=httpx.MockTransport(answer)) as c:
        with pytest.raises(InternalError, match="SHA-256"):
            c.job(5).download(tmp_path)
    assert not list(tmp_path.iterdir())


def test_download_when_awaiting_review_then_error_says_wait_released(tmp_path: Path):
    with _service("custom", _zip("a.csv"), "job-5.zip", status="awaiting_review") as c:
        with pytest.raises(PolicyViolation, match=r"job.wait_released\(\)"):
            c.job(5).download(tmp_path)


def test_repr_html_when_cost_column_and_output_then_fields_shown():
    from policies.catalog import ColumnTag
    from sandbox.client.query import Cost
    from sandbox.client.schema import Column

    assert "ε" in Cost(0.5)._repr_html_() and "laplace" in Cost(0.5)._repr_html_()
    shown = Column("<i>x</i>", "Int64", ColumnTag.PLAIN)._repr_html_()
    assert "&lt;i&gt;x" in shown and "plain" in shown
    assert "job-5.zip" in O.Output(5, ".zip", b"abc", "f" * 64)._repr_html_()


def test_review_when_override_reason_given_then_sent_with_the_decision():
    posted: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200, json={"id": 5, "kind": "custom", "status": "released"})

    with Client("http://s.test", "t", transport=httpx.MockTransport(answer)) as c:
        assert c.review(5, "approve", "fine", "public counts").status == "released"
        c.review(5, "reject", "no")
    assert posted == [
        {"decision": "approve", "reason": "fine", "override_reason": "public counts"},
        {"decision": "reject", "reason": "no", "override_reason": ""},
    ]


def test_readers_when_a_toy_kind_is_registered_then_its_shape_and_formats_decide():
    from jobs.kinds import KINDS, OutputShape
    from policies.catalog import Product
    from tests.unit.sandbox.web._toy import TOY, toy

    body = _zip("counts.csv")
    with KINDS.registered(toy()):  # a zip of files
        assert O.suffix_of("", TOY) == ".zip"
        with _service(TOY, body, "job-5") as c:
            assert c.job(5).files() == {"counts.csv": b"content of counts.csv"}
            with pytest.raises(InvalidRequest, match=rf"'{TOY}': its output is a zip of files; "):
                c.job(5).result()
    with KINDS.registered(toy(shape=OutputShape.TABLE, product=Product.RECORDS)):
        assert O.suffix_of("", TOY) == ".zip"
        with (
            _service(TOY, body, "job-5.zip") as c,
            pytest.raises(InvalidRequest, match=r"a table of rows; use job.result\(\)"),
        ):
            c.job(5).model()
