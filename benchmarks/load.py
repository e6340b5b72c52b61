"""Concurrent operators against one and two API processes on one PostgreSQL, same run.

    python benchmarks/load.py [--clients N] [--duration S] [--postgres URL] [--keep DIR]
                              [--check]

Deployment (real processes, as a bureau runs them): a fresh PostgreSQL database
(created on the server at ``--postgres``, default ``SANDBOX_TEST_POSTGRES_URL``,
dropped after), one data folder, two API-only ``sandbox serve`` processes
(``SANDBOX_WORKERS=0``) and one ``sandbox worker``. The API processes run no jobs, so
what is compared is the API alone; the one worker (shared by both setups) runs the
jobs the mixed workload submits, as production's worker Deployment would.

Set-up over HTTP: a bureau, four operator firms with a grant each, an operator per
client, 20,000 synthetic Jiangsu residents (the demo's generator), and a few released
jobs to download. Then N clients (an async httpx client each) run for ``--duration``
seconds per phase, each waiting for its answer before the next request (closed loop):

- ``estimate``: only ``POST /v1/jobs/estimate``, every spec different (group keys,
  filters, aggregates, bounds, ε drawn at random: an identical spec would hit the
  answer cache, which is not the common case);
- ``mixed``: estimate 60 %, status (``GET /v1/jobs/{id}``) 25 %, download of a
  released output 10 %, submit of a new distinct job 5 %.

Each phase runs against one API process, then against two with clients alternating
between the two base URLs request by request (a round-robin balancer's effect), after
2 s of unmeasured warm-up. Prints throughput and p50 / p99 latency per route and
setup, the CPU seconds each process group used (API processes, worker with its Ray,
this load generator, PostgreSQL, the rest of the machine) and the API's CPU per
request, and the ratios. Targets (issue 15): two processes ≥ 1.5x one's estimate
throughput; p99 of estimate ≤ 150 ms at 20 concurrent clients (``--check``: exit 1
when one is missed). The load generator and PostgreSQL share the machine's cores with
the API processes: the throughput ratio says how many cores were free for the second
process; the API's CPU per request, equal in both setups, is the machine-independent
figure. ``--keep DIR`` keeps the processes' logs.

This script is long because it is one self-contained program (start the deployment,
populate it over HTTP, drive it, meter the CPU, report), as each benchmark here is.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

from sandbox.cli.demo import free_port
from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, write_demo_csv

ROOT = Path(__file__).resolve().parents[1]
SECRET = "load-benchmark-secret-of-forty-eight-characters-x"
EDUCATION = ["小学", "初中", "高中", "大专", "本科", "研究生"]
PUBLIC_KEYS = {"city": list(JIANGSU_CITIES), "sex": ["男", "女"], "education": EDUCATION}
FIRMS = 4
MIX = {"estimate": 60, "status": 25, "download": 10, "submit": 5}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sandbox.cli.main", *args]


@contextmanager
def _folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@contextmanager
def _database(server: str) -> Iterator[str]:
    """A fresh database on ``server``, dropped after."""
    name = f"sandbox_load_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        print(f"skipped: no PostgreSQL answers at {sa.engine.make_url(server)!r} (--postgres)")
        sys.exit(0)
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _processes(env: dict[str, str], folder: Path) -> Iterator[list[tuple[str, int]]]:
    """Two API-only processes and one worker, started in parallel; their URLs and process
    ids. Killed after."""
    api = {"SANDBOX_WORKERS": "0", "SANDBOX_UNTIMED_WORKERS": "0"}
    work = {"SANDBOX_WORKERS": "2", "SANDBOX_UNTIMED_WORKERS": "0"}
    plans = [("api-a", api, "serve", "SANDBOX_PORT"), ("api-b", api, "serve", "SANDBOX_PORT")]
    plans.append(("worker", work, "worker", "SANDBOX_WORKER_PORT"))
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for name, extra, command, port_var in plans:
            port = free_port()
            log = folder / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    _command(command),
                    env=env | extra | {port_var: str(port)},
                    cwd=folder,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in started:
            _wait_ready(url, process, log)
        yield [(url, process.pid) for process, url, _ in started]
    finally:
        for process, url, log in started:
            if process.poll() is not None:
                print(f"{url} had exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            process.kill()
            process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready:\n{log.read_text()[-3000:]}")


def _ok(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in (expected or (200,)):
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Operators (token, grant) and released jobs each may download."""

    operators: list[tuple[str, int]]
    released: dict[int, list[int]]  # grant -> released jobs
    jobs: dict[int, list[int]] = field(default_factory=dict)  # grant -> any jobs


def _spec(rng: random.Random) -> dict[str, Any]:
    """A realistic aggregate spec; ε, bounds and filters drawn so specs rarely repeat."""
    group_by = rng.choice([["city"], ["sex"], ["education"], ["city", "sex"], ["education", "sex"]])
    aggregates: list[dict[str, Any]] = [{"op": "count", "name": "n"}]
    upper = rng.randrange(100_000, 1_000_000, 1_000)
    extra = rng.sample(["mean", "sum", "median"], rng.randint(1, 2))
    aggregates += [
        {"op": op, "column": "income", "lower": 0, "upper": upper, "name": f"{op}_income"}
        for op in extra
    ]
    spec: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "residents",
        "group_by": group_by,
        "aggregates": aggregates,
        "epsilon": rng.randrange(5, 100) / 100,
    }
    if rng.random() < 0.6:
        spec["filters"] = [{"column": "age", "op": "ge", "value": rng.randrange(18, 60)}]
    return spec


def _setup(url: str, admin: str, clients: int, folder: Path) -> World:
    http = httpx.Client(base_url=url, timeout=120)
    with http:

        def post(path: str, token: str, body: dict[str, Any]) -> Any:
            return _ok(http.post(path, headers=_auth(token), json=body), 201)

        bureau = post("/v1/orgs", admin, {"name": "bureau", "kind": "bureau"})
        steward = post(
            "/v1/users", admin, {"name": "steward", "role": "steward", "org_id": bureau["id"]}
        )["token"]
        csv = write_demo_csv(folder / "residents.csv", n=20_000)
        metadata = {
            "name": "residents",
            "source": "synthetic (demo generator)",
            "open_attribute": "unconditional",
            "grade": "general",
            "tags": DEMO_TAGS,
            "privacy_unit": "resident_id",
            "public_keys": PUBLIC_KEYS,
        }
        with csv.open("rb") as handle:
            ingested = http.post(
                "/v1/datasets",
                headers=_auth(steward),
                files={"file": ("residents.csv", handle)},
                data={"metadata": json.dumps(metadata)},
            )
        _ok(ingested, 201)
        grants = []
        firms = [
            post("/v1/orgs", admin, {"name": f"firm {i}", "kind": "operator"}) for i in range(FIRMS)
        ]
        for firm in firms:
            body = {
                "org_id": firm["id"],
                "datasets": ["residents"],
                "purpose": "load benchmark",
                "kinds": ["aggregate"],
                "epsilon": 1000.0,
                "commitment_required": True,
                "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            }
            grants.append(post("/v1/grants", steward, body)["id"])
        operators = []
        for i in range(clients):
            firm = firms[i % FIRMS]
            body = {"name": f"operator-{i}", "role": "operator", "org_id": firm["id"]}
            operators.append((post("/v1/users", admin, body)["token"], grants[i % FIRMS]))
        for token, grant in operators[:FIRMS]:  # art. 34: each firm accepts its commitment
            post(f"/v1/grants/{grant}/commitment", token, {})
        # two released jobs per grant, to download
        rng = random.Random(1)
        pending = []
        for token, grant in operators[:FIRMS]:
            for _ in range(2):
                job = {"grant_id": grant, "spec": _spec(rng), "purpose": "released for download"}
                pending.append(
                    (grant, _ok(http.post("/v1/jobs", headers=_auth(token), json=job), 202)["id"])
                )
        world = World(operators, {g: [] for g in grants}, {g: [] for g in grants})
        for grant, job_id in pending:
            deadline = time.monotonic() + 300
            while _ok(http.get(f"/v1/jobs/{job_id}", headers=_auth(steward)))["status"] in (
                "queued",
                "running",
            ):
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} did not finish")
                time.sleep(0.3)
            review = {"decision": "approve", "reason": "benchmark", "override_reason": "benchmark"}
            released = _ok(
                http.post(f"/v1/jobs/{job_id}/review", headers=_auth(steward), json=review)
            )
            if released["status"] != "released":
                raise SystemExit(f"job {job_id} is {released['status']}")
            world.released[grant].append(job_id)
            world.jobs[grant].append(job_id)
        return world


@dataclass
class Phase:
    """One run's latencies (seconds) per route, its wall time and its errors."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    #: CPU seconds each group of processes used over the phase (warm-up included).
    cpu_s: dict[str, float] = field(default_factory=dict)


async def _request(
    http: httpx.AsyncClient, route: str, url: str, grant: int, world: World, rng: random.Random
) -> httpx.Response:
    if route == "estimate":
        body = {"grant_id": grant, "spec": _spec(rng)}
        return await http.post(f"{url}/v1/jobs/estimate", json=body)
    if route == "submit":
        body = {"grant_id": grant, "spec": _spec(rng), "purpose": "load"}
        response = await http.post(f"{url}/v1/jobs", json=body)
        if response.status_code == 202:
            world.jobs[grant].append(response.json()["id"])
        return response
    if route == "status":
        return await http.get(f"{url}/v1/jobs/{rng.choice(world.jobs[grant])}")
    return await http.get(f"{url}/v1/jobs/{rng.choice(world.released[grant])}/output")


async def _client(
    index: int,
    world: World,
    urls: list[str],
    mix: dict[str, int],
    until: float,
    phase: Phase | None,
    turn: Iterator[int],
) -> None:
    token, grant = world.operators[index]
    rng = random.Random(f"{index}-{time.time_ns()}")
    routes, weights = list(mix), list(mix.values())
    headers = _auth(token)
    async with httpx.AsyncClient(timeout=60, headers=headers) as http:
        while time.monotonic() < until:
            route = rng.choices(routes, weights)[0]
            url = urls[next(turn) % len(urls)]  # round robin over the processes
            start = time.perf_counter()
            try:
                response = await _request(http, route, url, grant, world, rng)
            except httpx.TransportError as error:  # counted, shown after the table
                if phase is not None:
                    phase.errors[route] = phase.errors.get(route, 0) + 1
                    phase.failures.append(f"{route}: {type(error).__name__}")
                continue
            elapsed = time.perf_counter() - start
            if phase is None:
                continue
            if response.status_code >= 400:
                phase.errors[route] = phase.errors.get(route, 0) + 1
                phase.failures.append(f"{route}: {response.status_code} {response.text[:200]}")
            else:
                phase.latencies.setdefault(route, []).append(elapsed)


async def _run(
    world: World,
    urls: list[str],
    mix: dict[str, int],
    clients: int,
    duration: float,
    phase: Phase | None,
) -> None:
    """``clients`` clients for ``duration`` seconds; recorded into ``phase`` if given."""
    turn = count()
    start = time.monotonic()
    until = start + duration
    await asyncio.gather(
        *(_client(i, world, urls, mix, until, phase, turn) for i in range(clients))
    )
    if phase is not None:
        phase.wall_s = time.monotonic() - start


class CpuMeter:
    """CPU seconds used while it runs: by each group of processes (with their children,
    e.g. a worker's Ray; this process without its children, the processes measured), by
    PostgreSQL's processes, and by the whole machine. Sampled every 0.2 s, so that a
    process that ends meanwhile (a PostgreSQL backend of a closed connection) counts up
    to its last sample."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._machine = 0.0

    def __enter__(self) -> CpuMeter:
        self._first = {pid: cpu for pid, (_, cpu) in self._sample().items()}
        self._machine = _machine_busy()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last |= self._sample()
        self._machine = _machine_busy() - self._machine

    def used(self) -> dict[str, float]:
        totals = dict.fromkeys([*self.groups, "postgres"], 0.0)
        for pid, (name, cpu) in self._last.items():
            totals[name] += cpu - self._first.get(pid, 0.0)
        return totals | {"other": self._machine - sum(totals.values())}

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._last |= self._sample()

    def _sample(self) -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        for name, pids in self.groups.items():
            for pid in pids:
                try:
                    parent = psutil.Process(pid)
                    family = [] if pid == os.getpid() else parent.children(recursive=True)
                    for p in [parent, *family]:
                        found[p.pid] = (name, sum(p.cpu_times()[:2]))
                except psutil.NoSuchProcess:
                    continue
        for p in psutil.process_iter(["name", "cpu_times"]):
            if p.info["name"] == "postgres" and p.info["cpu_times"] is not None:
                found[p.pid] = ("postgres", sum(p.info["cpu_times"][:2]))
        return found


def _machine_busy() -> float:
    times: dict[str, float] = psutil.cpu_times()._asdict()
    return sum(v for k, v in times.items() if k not in ("idle", "iowait", "guest", "guest_nice"))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _table(results: dict[tuple[str, str], Phase]) -> None:
    print(
        f"{'workload':9} {'setup':8} {'route':9} {'requests':>8} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for (workload, setup), phase in results.items():
        for route, values in sorted(phase.latencies.items()):
            print(
                f"{workload:9} {setup:8} {route:9} {len(values):8d} "
                f"{len(values) / phase.wall_s:8.1f} {1000 * _quantile(values, 0.5):8.1f} "
                f"{1000 * _quantile(values, 0.99):8.1f} {phase.errors.get(route, 0):6d}"
            )
    print(
        "\nCPU seconds per phase ('other': the rest of the machine)"
        "\nand the API processes' CPU per request measured:"
    )
    names = [*next(iter(results.values())).cpu_s]
    print(f"{'workload':9} {'setup':8} " + " ".join(f"{n:>8}" for n in names) + "  api ms/req")
    for (workload, setup), phase in results.items():
        cpu = phase.cpu_s
        requests = sum(len(v) for v in phase.latencies.values())
        per = 1000 * (cpu["api a"] + cpu["api b"]) / max(requests, 1)
        print(
            f"{workload:9} {setup:8} "
            + " ".join(f"{v:8.1f}" for v in cpu.values())
            + f"  {per:10.1f}"
        )
    for (workload, setup), phase in results.items():
        for failure in sorted(set(phase.failures))[:5]:
            print(f"  {workload}/{setup} error: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SANDBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL server URL (a database is created on it and dropped after)",
    )
    parser.add_argument(
        "--keep", type=Path, help="work in this (new) folder and keep it: processes' logs"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    with _folder(args.keep) as folder, _database(args.postgres) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
        env |= {
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "SANDBOX_DATABASE_URL": url,
            "SANDBOX_DATA_DIR": str(folder / "data"),
            "SANDBOX_SECRET_KEY": SECRET,
            "SANDBOX_POLL_S": "0.5",
            "SANDBOX_RAY_NUM_CPUS": "1",
        }
        made = subprocess.run(
            _command("admin", "bootstrap"), env=env, cwd=folder, capture_output=True, check=True
        )
        admin = made.stdout.decode().strip().splitlines()[-1]
        with _processes(env, folder) as started:
            (a, _), (b, _), _ = started
            groups = {"api a": [started[0][1]], "api b": [started[1][1]]}
            groups |= {"worker": [started[2][1]], "load": [os.getpid()]}
            world = _setup(a, admin, args.clients, folder)
            print(f"{args.clients} clients, {args.duration:g} s per phase, {os.cpu_count()} CPUs")
            results: dict[tuple[str, str], Phase] = {}
            for workload, mix in (("estimate", {"estimate": 1}), ("mixed", MIX)):
                for setup, urls in (("one", [a]), ("two", [a, b])):
                    # first requests of a process import and compile: not measured
                    asyncio.run(_run(world, urls, mix, args.clients, 2.0, None))
                    results[workload, setup] = phase = Phase()
                    with CpuMeter(groups) as meter:
                        asyncio.run(_run(world, urls, mix, args.clients, args.duration, phase))
                    phase.cpu_s = meter.used()
    _table(results)
    rate = {
        s: len(results["estimate", s].latencies["estimate"]) / results["estimate", s].wall_s
        for s in ("one", "two")
    }
    ratio = rate["two"] / rate["one"]
    p99 = {s: 1000 * _quantile(results["estimate", s].latencies["estimate"], 0.99) for s in rate}
    print(f"  estimate throughput, two / one:  {ratio:.2f}x  (target >= 1.5)")
    print(
        f"  estimate p99, one / two processes: {p99['one']:.0f} / {p99['two']:.0f} ms "
        f"(target <= 150 at 20 clients)"
    )
    cpu = {
        s: 1000
        * (results["estimate", s].cpu_s["api a"] + results["estimate", s].cpu_s["api b"])
        / len(results["estimate", s].latencies["estimate"])
        for s in rate
    }
    print(
        f"  API CPU per estimate, one / two: {cpu['one']:.1f} / {cpu['two']:.1f} ms "
        f"(equal: nothing serializes the processes; a process's ceiling is "
        f"~{1000 / cpu['one']:.0f} estimates/s on a core of its own)"
    )
    missed = ratio < 1.5 or max(p99.values()) > 150
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
