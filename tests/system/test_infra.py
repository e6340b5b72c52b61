"""The deployment files of ``infra/``: Kubernetes manifests, compose file, image scripts.

Nothing here needs a cluster or a Docker engine. The manifests are rendered with
``kubectl kustomize`` where kubectl is on PATH (else every file a kustomization lists
is read as it is), core objects are checked against the official schemas bundled by
``kubernetes-validate`` (strict: an unknown field fails), and the rules the design
relies on are checked on the objects. The compose file goes through
``docker compose config`` where that plugin answers, else it is read as YAML. The
entrypoint and the bootstrap and backup scripts run for real under ``sh``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
#: Kubernetes versions the manifests must be valid for (appArmorProfile needs 1.30).
K8S_VERSIONS = ("1.30.0", "1.33.0")
#: SANDBOX_DRAIN_GRACE_S's default (sandbox/settings.py), when a pod does not set it.
DRAIN_GRACE_DEFAULT_S = 60.0
SANDBOX_IMAGE = re.compile(r"(^|/)data-sandbox:")
#: What every sandbox process gets as a secret file in production (Settings.check_secure).
PRODUCTION_SECRETS = ("SANDBOX_DATABASE_URL", "SANDBOX_SECRET_KEY", "SANDBOX_METRICS_TOKEN")
#: Their compose secrets' names.
COMPOSE_SECRETS = tuple(name.lower() for name in PRODUCTION_SECRETS)

Manifest = dict[str, Any]


# --- rendering -----------------------------------------------------------------------------


def _read_listed(folder: Path) -> list[Manifest]:
    """Every document of every file ``folder``'s kustomization lists, as written."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs: list[Manifest] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((folder / name).read_text()) if d]
    return docs


def _render(folder: Path) -> list[Manifest]:
    """``kubectl kustomize folder`` where kubectl is on PATH, else the listed files."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return _read_listed(folder)
    out = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return _render(K8S) + _render(K8S / "jobs")


def _one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod_specs(docs: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """(object name, pod spec) of every workload, the RayCluster's groups included."""
    for d in docs:
        kind, name, spec = d["kind"], d["metadata"]["name"], d.get("spec", {})
        if kind in ("Deployment", "Job"):
            yield name, spec["template"]["spec"]
        elif kind == "CronJob":
            yield name, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "RayCluster":
            yield f"{name}/head", spec["headGroupSpec"]["template"]["spec"]
            for group in spec["workerGroupSpecs"]:
                yield f"{name}/{group['groupName']}", group["template"]["spec"]


def _sandbox_pods(docs: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [(n, s) for n, s in _pod_specs(docs) if "/" not in n]


def _env(container: Manifest) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_kubectl_when_present_then_it_renders_what_the_listed_files_hold():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH: the other tests read the listed files as written")
    for folder in (K8S, K8S / "jobs"):
        rendered = {(d["kind"], d["metadata"]["name"]) for d in _render(folder)}
        listed = {(d["kind"], d["metadata"]["name"]) for d in _read_listed(folder)}
        assert rendered == listed, folder


def test_every_yaml_file_when_in_k8s_then_a_kustomization_lists_it():
    listed = {K8S / "kustomization.yaml", K8S / "jobs" / "kustomization.yaml"}
    for folder in (K8S, K8S / "jobs"):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        listed |= {folder / name for name in kustomization["resources"]}
    assert set(K8S.rglob("*.yaml")) == listed


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_objects_when_validated_strictly_then_they_match_the_schemas(
    manifests: list[Manifest], version: str
):
    custom = []
    for doc in manifests:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.append(doc["kind"])
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {error.message}")
    # Only the operators' resources lack a bundled schema; they are checked below.
    assert sorted(custom) == ["Cluster", "RayCluster"]


def test_strict_validation_when_a_field_is_misspelt_then_it_fails(manifests: list[Manifest]):
    deployment = _one(manifests, "Deployment", "data-sandbox-api")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_custom_resources_when_read_then_their_required_fields_are_there(
    manifests: list[Manifest],
):
    db = _one(manifests, "Cluster", "sandbox-db")
    assert db["apiVersion"] == "postgresql.cnpg.io/v1"
    assert db["spec"]["instances"] >= 2
    assert db["spec"]["storage"]["size"]
    initdb = db["spec"]["bootstrap"]["initdb"]
    assert initdb["owner"] == initdb["database"] == "sandbox"
    assert initdb["secret"]["name"]
    ray = _one(manifests, "RayCluster", "sandbox-ray")
    assert ray["apiVersion"] == "ray.io/v1"
    assert ray["spec"]["headGroupSpec"]["rayStartParams"]["include-dashboard"] == "false"
    assert ray["spec"]["headGroupSpec"]["serviceType"] == "ClusterIP"


# --- what the design relies on -------------------------------------------------------------


@pytest.mark.parametrize("name", ["data-sandbox-api", "data-sandbox-worker"])
def test_deployments_when_rolled_then_two_or_more_replicas_and_none_down(
    manifests: list[Manifest], name: str
):
    spec = _one(manifests, "Deployment", name)["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budgets = [
        d
        for d in manifests
        if d["kind"] == "PodDisruptionBudget"
        and d["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    ]
    assert len(budgets) == 1, f"{name} has no PodDisruptionBudget"


@pytest.mark.parametrize(
    ("name", "port"), [("data-sandbox-api", 8000), ("data-sandbox-worker", 9100)]
)
def test_probes_when_set_then_http_healthz_for_liveness_and_readyz_for_readiness(
    manifests: list[Manifest], name: str, port: int
):
    pod = _one(manifests, "Deployment", name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == port, probe


def test_worker_when_terminated_then_its_grace_period_exceeds_the_drain_grace(
    manifests: list[Manifest],
):
    pod = _one(manifests, "Deployment", "data-sandbox-worker")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["sandbox", "worker"]
    drain = float(_env(container).get("SANDBOX_DRAIN_GRACE_S", DRAIN_GRACE_DEFAULT_S))
    assert pod["terminationGracePeriodSeconds"] > drain


def test_api_when_deployed_then_it_runs_no_job(manifests: list[Manifest]):
    pod = _one(manifests, "Deployment", "data-sandbox-api")["spec"]["template"]["spec"]
    env = _env(pod["containers"][0])
    assert env["SANDBOX_WORKERS"] == env["SANDBOX_UNTIMED_WORKERS"] == "0"


def test_sandbox_pods_when_run_then_through_the_entrypoint_with_secret_files(
    manifests: list[Manifest],
):
    pods = _sandbox_pods(manifests)
    assert {n for n, _ in pods} >= {
        "data-sandbox-api",
        "data-sandbox-worker",
        "sandbox-backup",
        "sandbox-migrate",
        "sandbox-bootstrap",
    }
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"]:
            assert SANDBOX_IMAGE.search(container["image"]), name
            # `command` would replace the entrypoint that reads SANDBOX_*_FILE.
            assert "command" not in container, name
            env = container.get("env", [])
            assert all("valueFrom" not in e for e in env), f"{name}: secrets go in as files"
            assert _env(container)["SANDBOX_ENVIRONMENT"] == "production", name
            assert _env(container)["SANDBOX_LOG_FORMAT"] == "json", name
            # production refuses to start without any of them (Settings.check_secure)
            for secret in PRODUCTION_SECRETS:
                assert _env(container)[f"{secret}_FILE"].startswith("/run/secrets/"), name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name


def test_bootstrap_job_when_run_then_it_uses_the_script_that_tolerates_a_rerun(
    manifests: list[Manifest],
):
    pod = _one(manifests, "Job", "sandbox-bootstrap")["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][0] == "sandbox-bootstrap"
    migrate = _one(manifests, "Job", "sandbox-migrate")["spec"]["template"]["spec"]
    assert migrate["containers"][0]["args"] == ["sandbox", "admin", "migrate"]


def test_backup_cronjob_when_scheduled_then_one_at_a_time_onto_its_own_volume(
    manifests: list[Manifest],
):
    cron = _one(manifests, "CronJob", "sandbox-backup")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"data": "sandbox-data", "backups": "sandbox-backups"}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"]["readOnly"] is True
    assert pod["containers"][0]["args"] == ["sandbox-backup"]
    _one(manifests, "PersistentVolumeClaim", "sandbox-backups")


def test_data_volume_when_shared_then_read_write_many_and_mounted_by_every_user(
    manifests: list[Manifest],
):
    claim = _one(manifests, "PersistentVolumeClaim", "sandbox-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    users = {
        name
        for name, pod in _pod_specs(manifests)
        for v in pod.get("volumes", [])
        if v.get("persistentVolumeClaim", {}).get("claimName") == "sandbox-data"
    }
    assert users == {
        "data-sandbox-api",
        "data-sandbox-worker",
        "sandbox-backup",
        "sandbox-ray/workers",
    }


def test_ingress_when_routing_then_tls_and_only_the_public_paths(manifests: list[Manifest]):
    (ingress,) = [d for d in manifests if d["kind"] == "Ingress"]
    tls = ingress["spec"]["tls"]
    assert tls and all(t["secretName"] and t["hosts"] for t in tls)
    paths = {
        p["path"]: p["pathType"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]
    }
    assert paths == {
        "/v1": "Prefix",
        "/console": "Prefix",
        "/": "Exact",
        "/healthz": "Exact",
        # the API docs analysts read (served without a CDN, assets under /docs/)
        "/docs": "Prefix",
        "/redoc": "Exact",
        "/openapi.json": "Exact",
    }
    assert all("metrics" not in path for path in paths)
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts <= {h for t in tls for h in t["hosts"]}
    backends = {
        p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    assert backends == {"data-sandbox-api"}


def test_services_when_listed_then_nothing_is_exposed_beyond_the_cluster(
    manifests: list[Manifest],
):
    for doc in manifests:
        if doc["kind"] == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP", doc["metadata"]["name"]
    head = _one(manifests, "RayCluster", "sandbox-ray")["spec"]["headGroupSpec"]
    assert head["serviceType"] not in ("LoadBalancer", "NodePort")
    assert head["headService"]["spec"].get("type", "ClusterIP") == "ClusterIP"


def _policies(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in manifests if d["kind"] == "NetworkPolicy"}


def test_network_policies_when_read_then_ray_pods_reach_only_each_other(
    manifests: list[Manifest],
):
    policies = _policies(manifests)
    assert policies["default-deny-all"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    ray = {"ray.io/cluster": "sandbox-ray"}
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        selects_ray = selector.items() >= ray.items() or not policy["spec"]["podSelector"]
        if selects_ray and "Egress" in policy["spec"]["policyTypes"]:
            for rule in policy["spec"].get("egress", []):
                assert rule["to"] == [{"podSelector": {"matchLabels": ray}}], name
    # No Ray pod carries a label that opens the database or the Ray head's client port.
    for name, pod in _pod_specs(manifests):
        if "/" in name:
            assert pod["automountServiceAccountToken"] is False, name
            assert pod["dnsPolicy"] == "None", name
    for doc in manifests:
        if doc["kind"] == "RayCluster":
            groups = [doc["spec"]["headGroupSpec"], *doc["spec"]["workerGroupSpecs"]]
            for group in groups:
                labels = group["template"].get("metadata", {}).get("labels", {})
                assert not any(k.startswith("data-sandbox/") for k in labels)
                for container in group["template"]["spec"]["containers"]:
                    names = {e["name"] for e in container.get("env", [])}
                    assert not any("DATABASE" in n or "SECRET" in n for n in names)


def test_network_policies_when_read_then_api_and_workers_reach_database_and_ray_head(
    manifests: list[Manifest],
):
    policies = _policies(manifests)
    for name in ("data-sandbox-api", "data-sandbox-worker"):
        labels = _one(manifests, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert labels["data-sandbox/database-client"] == "true", name
    # only the job workers reach Ray; the API-only pods run no job and never join it
    api = _one(manifests, "Deployment", "data-sandbox-api")["spec"]["template"]
    assert "data-sandbox/ray-client" not in api["metadata"]["labels"]
    assert all(
        e["name"] != "SANDBOX_RAY_ADDRESS" for c in api["spec"]["containers"] for e in c["env"]
    )
    worker = _one(manifests, "Deployment", "data-sandbox-worker")["spec"]["template"]
    assert worker["metadata"]["labels"]["data-sandbox/ray-client"] == "true"
    db_egress = policies["database-clients-egress"]["spec"]
    assert db_egress["podSelector"]["matchLabels"] == {"data-sandbox/database-client": "true"}
    assert db_egress["egress"][0]["to"] == [
        {"podSelector": {"matchLabels": {"cnpg.io/cluster": "sandbox-db"}}}
    ]
    assert db_egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    ray_egress = policies["ray-clients-egress"]["spec"]["egress"]
    assert ray_egress[0] == {
        "to": [
            {
                "podSelector": {
                    "matchLabels": {"ray.io/cluster": "sandbox-ray", "ray.io/node-type": "head"}
                }
            }
        ],
        "ports": [{"protocol": "TCP", "port": 10001}],
    }
    # The other rules open DNS (port 53) only.
    assert all({p["port"] for p in rule["ports"]} == {53} for rule in ray_egress[1:])
    assert all({p["port"] for p in rule["ports"]} == {53} for rule in db_egress["egress"][1:])
    head_in = policies["ray-head-from-clients"]["spec"]["ingress"]
    assert head_in[0]["ports"] == [{"protocol": "TCP", "port": 10001}]
    # The database admits sandbox clients and its own instances on 5432, and the
    # operator; nothing that Ray pods could carry.
    db_in = policies["postgresql-ingress"]["spec"]["ingress"]
    sources = [s for rule in db_in for s in rule["from"]]
    assert {"podSelector": {"matchLabels": {"data-sandbox/database-client": "true"}}} in sources
    assert all("ray.io/cluster" not in str(s) for s in sources)


def test_versions_when_pinned_then_image_cluster_and_project_agree(manifests: list[Manifest]):
    dockerfile = (INFRA / "Dockerfile").read_text()
    ray = re.search(r"^ARG RAY_VERSION=(\S+)$", dockerfile, re.M)
    torch = re.search(r"^ARG TORCH_VERSION=(\S+)$", dockerfile, re.M)
    assert ray and torch
    assert _one(manifests, "RayCluster", "sandbox-ray")["spec"]["rayVersion"] == ray[1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"torch=={torch[1]}" in project["dependencies"]
    images = {
        d["spec"]["images"][0]["newName"] + ":" + d["spec"]["images"][0]["newTag"]
        for d in (
            {"spec": yaml.safe_load((folder / "kustomization.yaml").read_text())}
            for folder in (K8S, K8S / "jobs")
        )
    }
    assert len(images) == 1, "infra/k8s and infra/k8s/jobs must deploy the same image"


def test_dockerfile_when_read_then_scripts_packages_and_offline_path_are_there():
    dockerfile = (INFRA / "Dockerfile").read_text()
    for script in ("docker-entrypoint.sh", "bootstrap.sh", "backup.sh"):
        assert f"COPY --chmod=0755 infra/{script} " in dockerfile
        assert (INFRA / script).stat().st_mode & stat.S_IXUSR, script
    for package in ("bubblewrap", "libseccomp2", "tini", "postgresql-client"):
        assert re.search(rf"apt-get install [^\n]*\b{package}\b", dockerfile), package
    assert "--no-index --find-links /wheelhouse" in dockerfile
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/sandbox-entrypoint"]' in dockerfile


def test_wheelhouse_script_when_reading_the_dockerfile_then_it_finds_its_versions(
    tmp_path: Path,
):
    script = (INFRA / "wheelhouse.sh").read_text()
    subprocess.run(["sh", "-n", str(INFRA / "wheelhouse.sh")], check=True)
    (helper,) = re.findall(r"^arg\(\) \{.*\}$", script, re.M)
    out = subprocess.run(
        ["sh", "-c", f"{helper}\narg RAY_VERSION; arg TORCH_VERSION"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert out == re.findall(r"^ARG (?:RAY|TORCH)_VERSION=(\S+)$", dockerfile, re.M)


# --- compose -------------------------------------------------------------------------------


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    answer = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    return answer.returncode == 0


@pytest.fixture(scope="module")
def compose() -> Manifest:
    return dict(yaml.safe_load((INFRA / "compose.yaml").read_text()))


def test_compose_when_the_plugin_is_present_then_docker_accepts_the_file(tmp_path: Path):
    if not _compose_plugin():
        pytest.skip("the docker compose plugin is not installed: the file is checked as YAML")
    secrets = INFRA / "secrets"
    made = not secrets.exists()
    if made:  # `config` wants the secret files to exist; empty ones will do
        secrets.mkdir()
        for name in (*COMPOSE_SECRETS, "postgres_password"):
            (secrets / name).touch()
    try:
        subprocess.run(
            ["docker", "compose", "-f", str(INFRA / "compose.yaml"), "config", "--quiet"],
            check=True,
            timeout=60,
        )
    finally:
        if made:
            shutil.rmtree(secrets)


def test_compose_when_started_then_migration_runs_before_everything_that_uses_the_database(
    compose: Manifest,
):
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("api", "worker", "bootstrap"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
    assert services["migrate"]["command"] == ["sandbox", "admin", "migrate"]
    assert services["bootstrap"]["command"][0] == "sandbox-bootstrap"
    assert services["worker"]["command"] == ["sandbox", "worker"]
    for name in ("migrate", "bootstrap", "backup"):
        assert services[name]["restart"] == "no", name
    assert services["backup"]["profiles"] == ["backup"]
    assert services["backup"]["command"] == ["sandbox-backup"]


def test_compose_when_read_then_api_health_uses_python_and_workers_drain_in_time(
    compose: Manifest,
):
    services = compose["services"]
    check = " ".join(services["api"]["healthcheck"]["test"])
    assert "python" in check and "urllib" in check and "/healthz" in check
    assert services["api"]["environment"]["SANDBOX_WORKERS"] == "0"
    assert services["api"]["environment"]["SANDBOX_UNTIMED_WORKERS"] == "0"
    worker = services["worker"]
    drain = float(worker["environment"].get("SANDBOX_DRAIN_GRACE_S", DRAIN_GRACE_DEFAULT_S))
    grace = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    assert grace and int(grace[1]) > drain


def test_compose_when_read_then_only_the_api_is_published_and_ray_has_no_secrets(
    compose: Manifest,
):
    services = compose["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"api"}
    assert compose["networks"]["internal"]["internal"] is True
    for name, service in services.items():
        if name != "api":
            assert service["networks"] == ["internal"], name
        env = service.get("environment", {})
        if name.startswith("ray-"):
            assert "secrets" not in service, name
            assert not any("DATABASE" in k or "SECRET" in k for k in env), name
        elif name != "db":
            # Every sandbox process goes through the entrypoint with secret files.
            assert "entrypoint" not in service, name
            for secret in PRODUCTION_SECRETS:
                assert env[f"{secret}_FILE"] == f"/run/secrets/{secret.lower()}", name
            assert set(service["secrets"]) == set(COMPOSE_SECRETS), name
            assert env["SANDBOX_LOG_FORMAT"] == "json", name
    assert set(COMPOSE_SECRETS) <= set(compose["secrets"])


# --- the scripts of the image --------------------------------------------------------------


def _shim(folder: Path, body: str) -> dict[str, str]:
    """An environment whose ``sandbox`` command is ``body`` (a shell script)."""
    folder.mkdir(exist_ok=True)
    command = folder / "sandbox"
    command.write_text("#!/bin/sh\n" + body)
    command.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    return env | {"PATH": f"{folder}{os.pathsep}{env['PATH']}"}


def test_entrypoint_when_a_file_variable_is_set_then_the_command_sees_its_content(
    tmp_path: Path,
):
    secret = tmp_path / "key"
    secret.write_text("s3cret-value")
    env = {"PATH": os.environ["PATH"], "SANDBOX_SECRET_KEY_FILE": str(secret)}
    out = subprocess.run(
        ["sh", str(INFRA / "docker-entrypoint.sh"), "env"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SANDBOX_SECRET_KEY=s3cret-value" in out.splitlines()
    assert "SANDBOX_SECRET_KEY_FILE" not in out
    both = subprocess.run(
        ["sh", str(INFRA / "docker-entrypoint.sh"), "true"],
        env=env | {"SANDBOX_SECRET_KEY": "x"},
        capture_output=True,
        text=True,
    )
    assert both.returncode == 64


def test_bootstrap_script_when_run_twice_then_one_token_and_success_both_times(
    tmp_path: Path,
):
    env = _shim(
        tmp_path / "bin",
        f'PYTHONPATH="{ROOT}" exec "{sys.executable}" -m sandbox.cli.main "$@"\n',
    )
    env |= {"SANDBOX_DATA_DIR": str(tmp_path / "data"), "SANDBOX_ENVIRONMENT": "development"}
    script = str(INFRA / "bootstrap.sh")
    first = subprocess.run(
        ["sh", script, "--name", "root"], env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.split()) == 1  # the token, and nothing else on stdout
    again = subprocess.run(
        ["sh", script, "--name", "root"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "nothing to do" in again.stderr


def test_bootstrap_script_when_the_command_fails_otherwise_then_the_failure_stays(
    tmp_path: Path,
):
    env = _shim(tmp_path / "bin", 'echo "error: the database is unreachable" >&2\nexit 2\n')
    failed = subprocess.run(
        ["sh", str(INFRA / "bootstrap.sh")], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert "unreachable" in failed.stderr


def test_backup_script_when_run_then_a_stamped_folder_and_only_the_newest_kept(
    tmp_path: Path,
):
    # `sandbox admin backup --to DIR` stands in as a command that writes DIR.
    env = _shim(
        tmp_path / "bin",
        '[ "$1 $2 $3" = "admin backup --to" ] || exit 9\nmkdir "$4" && echo dump > "$4/db"\n',
    )
    root = tmp_path / "backups"
    root.mkdir()
    for old in ("20250101T000000Z", "20250102T000000Z", "20250103T000000Z"):
        (root / old).mkdir()
    (root / ".20250104T000000Z.partial-0a1b2c3d").mkdir()  # a run that died
    env |= {"BACKUP_ROOT": str(root), "BACKUP_KEEP": "2"}
    subprocess.run(["sh", str(INFRA / "backup.sh")], env=env, check=True, timeout=60)
    kept = sorted(p.name for p in root.iterdir())
    assert len(kept) == 2
    assert kept[0] == "20250103T000000Z"
    assert re.fullmatch(r"\d{8}T\d{6}Z", kept[1]) and (root / kept[1] / "db").exists()


def test_backup_script_when_the_backup_fails_then_nothing_is_pruned(tmp_path: Path):
    env = _shim(tmp_path / "bin", "exit 3\n")
    root = tmp_path / "backups"
    (root / "20250101T000000Z").mkdir(parents=True)
    env |= {"BACKUP_ROOT": str(root), "BACKUP_KEEP": "1"}
    failed = subprocess.run(["sh", str(INFRA / "backup.sh")], env=env, capture_output=True)
    assert failed.returncode == 3
    assert [p.name for p in root.iterdir()] == ["20250101T000000Z"]
    bad = subprocess.run(
        ["sh", str(INFRA / "backup.sh")], env=env | {"BACKUP_KEEP": "0"}, capture_output=True
    )
    assert bad.returncode == 64
