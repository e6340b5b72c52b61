"""The object-storage variant of the Kubernetes manifests (``infra/overlays/object-storage``).

Rendered with ``kubectl kustomize`` (an overlay needs kustomize: without kubectl
these tests skip), then checked like the base: strict schemas, and the rules
the variant exists for: no shared volume, the bucket and its endpoint set on
every pod that reads or writes stored files, credentials only as secret files,
the Ray workers' own key, and egress to the store alone.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import kubernetes_validate
import pytest

from tests.system.test_infra import INFRA, K8S, K8S_VERSIONS, Manifest, _env, _pod_specs, _render

OVERLAY = INFRA / "overlays" / "object-storage"
#: What reaches S3 in each pod: the variables jobs/storage.py reads.
CREDENTIAL_FILES = ("AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY_FILE")


@pytest.fixture(scope="module")
def rendered() -> list[Manifest]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH: an overlay renders only through kustomize")
    return _render(OVERLAY)


def _pods(docs: list[Manifest]) -> dict[str, Manifest]:
    return dict(_pod_specs(docs))


def _mounted_secret(pod: Manifest, container: Manifest, path: str) -> str:
    """The Secret whose volume ``container`` mounts at the folder holding ``path``."""
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volume = mounts[path.rsplit("/", 1)[0]]
    found = [v for v in pod["volumes"] if v["name"] == volume]
    return str(found[0]["secret"]["secretName"])


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_overlay_when_validated_strictly_then_it_matches_the_schemas(
    rendered: list[Manifest], version: str
):
    for doc in rendered:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert doc["kind"] in ("Cluster", "RayCluster")
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {error.message}")


def test_overlay_when_rendered_then_no_shared_volume_is_claimed(rendered: list[Manifest]):
    claims = {d["metadata"]["name"] for d in rendered if d["kind"] == "PersistentVolumeClaim"}
    assert claims == {"sandbox-backups"}  # the backups' own disk stays
    for name, pod in _pods(rendered).items():
        for volume in pod.get("volumes", []):
            claim = volume.get("persistentVolumeClaim") or {}
            assert claim.get("claimName") != "sandbox-data", name
    base = {d["metadata"]["name"] for d in _render(K8S) if d["kind"] == "PersistentVolumeClaim"}
    assert "sandbox-data" in base  # the default keeps the shared folder


def test_sandbox_pods_when_on_object_storage_then_bucket_endpoint_and_secret_files(
    rendered: list[Manifest],
):
    pods = _pods(rendered)
    for name in ("data-sandbox-api", "data-sandbox-worker"):
        pod = pods[name]
        container = pod["containers"][0]
        env = _env(container)
        assert urlparse(env["SANDBOX_STORAGE_URL"]).scheme == "s3", name
        assert env["AWS_ENDPOINT_URL"].startswith("https://"), name
        # credentials as files of a mounted Secret, never as values in the manifest
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env), name
        for variable in CREDENTIAL_FILES:
            assert _mounted_secret(pod, container, env[variable]) == "sandbox-storage", name


def test_ray_workers_when_on_object_storage_then_their_own_key_and_the_store_by_hosts(
    rendered: list[Manifest],
):
    pods = _pods(rendered)
    worker = pods["sandbox-ray/workers"]
    container = worker["containers"][0]
    env = _env(container)
    for variable in CREDENTIAL_FILES:
        assert _mounted_secret(worker, container, env[variable]) == "sandbox-storage-ray"
    assert not any(k.startswith("SANDBOX_") and k != "SANDBOX_DATA_DIR" for k in env)
    host = urlparse(env["AWS_ENDPOINT_URL"]).hostname
    aliases = {h: a["ip"] for a in worker["hostAliases"] for h in a["hostnames"]}
    assert host in aliases  # no DNS on Ray workers
    policy = next(
        d for d in rendered if d["metadata"]["name"] == "ray-workers-object-storage-egress"
    )
    assert policy["spec"]["podSelector"]["matchLabels"] == {"ray.io/node-type": "worker"}
    (rule,) = policy["spec"]["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": f"{aliases[host]}/32"}}]
    head = pods["sandbox-ray/head"]
    assert not any(k.startswith("AWS_") for c in head["containers"] for k in _env(c))
