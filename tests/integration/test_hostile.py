"""Hostile custom jobs: every attack is blocked or contained, and nothing leaves unreviewed.

Each test runs operator code through :func:`jobs.kinds.custom.engine.run` (no Ray, no
service) against a small world in ``tmp_path``: the granted dataset
``people``, and next to it what the code must never reach: a secret file, a
metadata database, another dataset, a secret in the parent's environment, a
TCP "database" and unix sockets on the host. The secret token is written
into all of them; a test fails if it shows up in anything the job produced
(its zip, its report, its streams). After each test the host must be healthy:
no stray process, no leftover cgroup, the secret files unchanged.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import pytest

from jobs.errors import InvalidJobSpec
from jobs.kinds.custom import jail
from jobs.kinds.custom.engine import run
from jobs.runner import Outcome, Task

if not os.access(jail.BWRAP, os.X_OK) and os.environ.get("CI"):
    # CI installs bubblewrap (.ci/run): a missing jail there is a failure, not a skip.
    raise RuntimeError(f"CI needs bubblewrap at {jail.BWRAP} for the hostile-job suite")
pytestmark = pytest.mark.skipif(not os.access(jail.BWRAP, os.X_OK), reason="needs bubblewrap")

MIB = 1024 * 1024
#: Small limits so that each attack ends fast.
LIMITS: dict[str, int] = {
    "wall_s": 30,
    "cpu_s": 20,
    "memory_bytes": 2048 * MIB,
    "processes": 64,
    "file_size_bytes": 4 * MIB,
    "output_bytes": 8 * MIB,
    "output_files": 20,
    "tmp_bytes": 8 * MIB,
}
#: Time a killed jail may take beyond its wall-clock limit.
GRACE_S = 5.0


@dataclass
class World:
    """The host around a job: what it may read, and what it must not."""

    root: Path
    token: str
    people: str
    secret_file: Path
    database: Path
    other_dataset: Path
    quarantine: Path
    listeners: list[socket.socket] = field(default_factory=list)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    token = f"S3CRET-{secrets.token_hex(8)}"
    store = tmp_path / "store"
    people = store / "people"
    people.mkdir(parents=True)
    pl.DataFrame({"age": [31, 45, 27], "city": ["Nanjing", "Suzhou", "Wuxi"]}).write_parquet(
        people / "part-00000.parquet"
    )
    pl.DataFrame({"age": [52, 38], "city": ["Nanjing", "Changzhou"]}).write_parquet(
        people / "part-00001.parquet"
    )
    other = store / "other"
    other.mkdir()
    pl.DataFrame({"resident_id": [token]}).write_parquet(other / "part-00000.parquet")
    settings = tmp_path / "settings"
    settings.mkdir()
    secret_file = settings / "secret.key"
    secret_file.write_text(token)
    database = tmp_path / "sandbox.db"
    import sqlite3

    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE tokens (value TEXT)")
        conn.execute("INSERT INTO tokens VALUES (?)", (token,))
    conn.close()
    monkeypatch.setenv("SANDBOX_SECRET", token)
    return World(
        root=tmp_path,
        token=token,
        people=str(people / "part-*.parquet"),
        secret_file=secret_file,
        database=database,
        other_dataset=other / "part-00000.parquet",
        quarantine=tmp_path / "quarantine",
    )


@pytest.fixture(autouse=True)
def _host_stays_healthy(world: World) -> Iterator[None]:
    """After every attack: no stray process, no leftover cgroup, the secrets intact."""
    me = psutil.Process()
    # Processes the session had already (e.g. its local Ray) are not the attack's.
    before = {p.pid for p in me.children(recursive=True)}

    def strays() -> list[psutil.Process]:
        return [p for p in me.children(recursive=True) if p.pid not in before]

    yield
    deadline = time.monotonic() + 10
    while strays() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert strays() == []
    assert me.is_running() and me.status() != psutil.STATUS_ZOMBIE
    leftovers = [
        p for p in Path("/sys/fs/cgroup").glob(f"*/data-sandbox-jail-{os.getpid()}-*") if p.exists()
    ]
    assert leftovers == []
    assert world.secret_file.read_text() == world.token
    for s in world.listeners:
        s.close()


def run_code(world: World, source: str, **limits: int) -> Outcome:
    """Run ``source`` as a custom job over ``people`` with the small limits (overridden)."""
    task = Task(
        job_id=7,
        spec={"kind": "custom", "datasets": ["people"], "source": textwrap.dedent(source)},
        inputs={"people": world.people},
        row_counts={"people": 5},
        output_path=str(world.quarantine / "job-7.parquet"),
        min_cell=10,
        grades={"people": "general"},
        options={"limits": LIMITS | limits},
    )
    return run(task)


def released(outcome: Outcome) -> dict[str, bytes]:
    """The files the job offers for review."""
    with zipfile.ZipFile(outcome.output_path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def by_code_name(outcome: Outcome) -> dict[str, bytes]:
    """The released files under the names the code gave them (the report maps the two)."""
    files = released(outcome)
    return {str(f["code_name"]): files[str(f["name"])] for f in outcome.report["files"]}


def stdout(outcome: Outcome) -> str:
    return str(outcome.report["stdout"]["tail"])


def result(outcome: Outcome) -> Any:
    """The JSON the attack printed as its last stdout line."""
    return json.loads(stdout(outcome).strip().splitlines()[-1])


def assert_no_leak(world: World, outcome: Outcome) -> None:
    """The token appears nowhere in what the job produced."""
    blob = json.dumps(outcome.report) + "".join(
        b.decode("latin-1") for b in released(outcome).values()
    )
    assert world.token not in blob


def listen_tcp(world: World) -> tuple[int, list[int]]:
    """A host TCP listener on loopback (a stand-in for the database or Ray's GCS)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    world.listeners.append(server)
    accepted: list[int] = []

    def accept() -> None:
        try:
            while True:
                conn, _ = server.accept()
                accepted.append(1)
                conn.close()
        except OSError:
            return

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1], accepted


# -- a control: the jail runs honest code ---------------------------------------------------------


def test_custom_when_code_is_honest_then_outputs_are_packed_for_review(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json, struct, zlib
        import polars as pl
        df = pl.read_parquet("/data/people.parquet")
        summary = df.group_by("city").agg(pl.len().alias("n")).sort("city")
        summary.write_csv("/output/summary.csv")
        summary.write_parquet("/output/summary.parquet")
        with open("/output/meta.json", "w") as f:
            json.dump({"rows": df.height}, f)
        with open("/output/notes.txt", "w") as f:
            f.write("ok\\n")
        def chunk(kind, data):
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
        header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
        png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
        png += chunk(b"IDAT", zlib.compress(b"\\x00\\x00")) + chunk(b"IEND", b"")
        open("/output/plot.png", "wb").write(png)
        print("rows", df.height)
        """,
    )
    files = by_code_name(outcome)
    assert outcome.report["stderr"]["tail"] == ""
    assert sorted(files) == ["meta.json", "notes.txt", "plot.png", "summary.csv", "summary.parquet"]
    assert sorted(released(outcome)) == sorted(str(f["name"]) for f in outcome.report["files"])
    assert all(n.startswith("file-") for n in released(outcome))
    assert json.loads(files["meta.json"]) == {"rows": 5}
    assert pl.read_parquet(io.BytesIO(files["summary.parquet"]))["n"].sum() == 5
    assert outcome.report["images"] == 1 and "person must look" in outcome.report["image_note"]
    report = outcome.report
    assert report["exit_code"] == 0 and report["succeeded"] and report["rejected"] == []
    assert report["needs_review"] and report["differentially_private"] is False
    assert outcome.epsilon == 0 and outcome.delta == 0 and outcome.rows == 5
    assert stdout(outcome) == "rows 5\n"
    assert Path(outcome.output_path) == world.quarantine / "job-7.zip"


def test_custom_when_run_twice_then_the_zip_is_identical(world: World) -> None:
    source = "open('/output/b.txt', 'w').write('b'); open('/output/a.txt', 'w').write('a')"
    first = run_code(world, source).output_sha256
    assert run_code(world, source).output_sha256 == first


def test_custom_when_code_fails_then_nothing_is_released_and_the_reviewer_sees_why(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        open("/output/partial.csv", "w").write("a,b\\n1,2\\n")
        raise SystemExit("boom")
        """,
    )
    assert outcome.report["exit_code"] == 1 and not outcome.report["succeeded"]
    assert released(outcome) == {}
    assert outcome.report["rejected"] == [
        {"name": "partial.csv", "reason": "the run failed; nothing is released"}
    ]
    assert "boom" in outcome.report["stderr"]["tail"]


# -- reading what is not granted ------------------------------------------------------------------


def test_attack_when_reading_etc_shadow_then_it_does_not_exist(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json, os
        try:
            data = open("/etc/shadow").read()
        except OSError as e:
            data = type(e).__name__
        print(json.dumps({"shadow": data, "etc": sorted(os.listdir("/etc"))}))
        """,
    )
    assert result(outcome) == {
        "shadow": "FileNotFoundError",
        "etc": ["group", "hosts", "ld.so.cache", "passwd"],
    }


def test_attack_when_reading_the_secret_file_by_absolute_path_then_it_is_not_there(
    world: World,
) -> None:
    outcome = run_code(
        world,
        f"""
        import json
        try:
            data = open({str(world.secret_file)!r}).read()
        except OSError as e:
            data = type(e).__name__
        open("/output/stolen.txt", "w").write(data)
        print(json.dumps(data))
        """,
    )
    assert result(outcome) == "FileNotFoundError"
    assert_no_leak(world, outcome)


def test_attack_when_reading_another_dataset_then_only_the_granted_one_is_there(
    world: World,
) -> None:
    outcome = run_code(
        world,
        f"""
        import json, os
        found = {{}}
        for path in ({str(world.other_dataset)!r}, "/data/other.parquet"):
            try:
                found[path] = open(path, "rb").read().hex()
            except OSError as e:
                found[path] = type(e).__name__
        print(json.dumps({{"data": sorted(os.listdir("/data")), "found": sorted(found.values())}}))
        """,
    )
    assert result(outcome) == {
        "data": ["people.parquet"],
        "found": ["FileNotFoundError", "FileNotFoundError"],
    }
    assert_no_leak(world, outcome)


def test_attack_when_opening_the_metadata_database_then_it_is_not_there(world: World) -> None:
    outcome = run_code(
        world,
        f"""
        import json, sqlite3
        try:
            rows = sqlite3.connect("file:{world.database}?mode=ro", uri=True).execute(
                "SELECT * FROM tokens").fetchall()
        except sqlite3.Error as e:
            rows = type(e).__name__
        print(json.dumps(rows))
        """,
    )
    assert result(outcome) == "OperationalError"
    assert_no_leak(world, outcome)


def test_attack_when_reading_the_environment_then_only_the_jail_variables_are_set(
    world: World,
) -> None:
    assert os.environ["SANDBOX_SECRET"] == world.token
    outcome = run_code(world, "import json, os; print(json.dumps(dict(os.environ)))")
    env = result(outcome)
    assert "SANDBOX_SECRET" not in env
    assert not [k for k in env if k.startswith(("SANDBOX", "RAY_", "AWS", "PG"))]
    assert env["HOME"] == "/tmp" and env["PATH"].startswith("/usr/bin:/bin")
    assert_no_leak(world, outcome)


def test_attack_when_reading_proc_environ_of_every_process_then_no_secret_and_few_pids(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import json, os
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        seen = []
        for p in pids:
            for part in ("environ", "cmdline"):
                try:
                    seen.append(open(f"/proc/{p}/{part}", "rb").read().decode("latin-1"))
                except OSError as e:
                    seen.append(type(e).__name__)
        print(json.dumps({"pids": len(pids), "seen": seen}))
        """,
    )
    found = result(outcome)
    assert found["pids"] <= 3  # bubblewrap's pid 1 and the code itself
    assert world.token not in json.dumps(found)
    assert_no_leak(world, outcome)


def test_attack_when_reading_mountinfo_then_no_host_path_of_the_world_or_ray_shows(
    world: World,
) -> None:
    outcome = run_code(world, "print(open('/proc/self/mountinfo').read())")
    mounts = stdout(outcome)
    assert "/data" in mounts and "/output" in mounts
    for hidden in (str(world.root), "/tmp/ray", str(world.database), "/sys", "/var"):
        assert hidden not in mounts
    assert_no_leak(world, outcome)


# -- reaching out ---------------------------------------------------------------------------------


def test_attack_when_connecting_to_a_host_tcp_port_then_nothing_reaches_it(world: World) -> None:
    port, accepted = listen_tcp(world)
    outcome = run_code(
        world,
        f"""
        import json, socket
        out = {{}}
        for port in ({port}, 5432):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                out[port] = "connected"
            except OSError as e:
                out[port] = type(e).__name__
        print(json.dumps(sorted(out.values())))
        """,
    )
    assert result(outcome) == ["ConnectionRefusedError", "ConnectionRefusedError"]
    assert accepted == []


def test_attack_when_resolving_a_name_then_there_is_no_dns(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json, socket
        try:
            socket.getaddrinfo("pypi.org", 443)
            out = "resolved"
        except OSError as e:
            out = type(e).__name__
        print(json.dumps({"dns": out, "interfaces": [n for _, n in socket.if_nameindex()]}))
        """,
    )
    assert result(outcome) == {"dns": "gaierror", "interfaces": ["lo"]}


def test_attack_when_connecting_to_the_internet_or_the_host_address_then_unreachable(
    world: World,
) -> None:
    host_ips = [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and not a.address.startswith("127.")
    ]
    targets = ["1.1.1.1", "8.8.8.8", *host_ips[:2]]
    outcome = run_code(
        world,
        f"""
        import json, socket
        out = []
        for ip in {targets!r}:
            try:
                socket.create_connection((ip, 443), timeout=2).close()
                out.append("connected")
            except OSError as e:
                out.append(type(e).__name__)
            try:
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (ip, 53))
                out.append("sent")
            except OSError as e:
                out.append(type(e).__name__)
        print(json.dumps(out))
        """,
    )
    assert set(result(outcome)) == {"OSError"}  # ENETUNREACH: no route, no interface


def test_attack_when_reaching_ray_sockets_then_neither_path_nor_abstract_socket_works(
    world: World,
) -> None:
    path_socket = world.root / "ray" / "session_latest" / "sockets" / "raylet"
    path_socket.parent.mkdir(parents=True)
    abstract = f"\0ray-test-{world.token}"
    servers = []
    for address in (str(path_socket), abstract):
        server = socket.socket(socket.AF_UNIX)
        server.bind(address)
        server.listen()
        servers.append(server)
    world.listeners.extend(servers)
    gcs_port, accepted = listen_tcp(world)
    outcome = run_code(
        world,
        f"""
        import json, os, socket
        out = {{"tmp_ray": os.path.exists("/tmp/ray")}}
        for name, address in (("path", {str(path_socket)!r}), ("abstract", {abstract!r})):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(address)
                out[name] = "connected"
            except OSError as e:
                out[name] = type(e).__name__
        try:
            socket.create_connection(("127.0.0.1", {gcs_port}), timeout=2)
            out["gcs"] = "connected"
        except OSError as e:
            out["gcs"] = type(e).__name__
        print(json.dumps(out))
        """,
    )
    assert result(outcome) == {
        "tmp_ray": False,
        "path": "FileNotFoundError",
        "abstract": "ConnectionRefusedError",
        "gcs": "ConnectionRefusedError",
    }
    assert accepted == []


# -- exhausting resources -------------------------------------------------------------------------


def test_attack_when_fork_bombing_then_the_process_count_stays_capped(world: World) -> None:
    start = time.monotonic()
    outcome = run_code(
        world,
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        wall_s=3,
        processes=16,
    )
    report = outcome.report
    assert report["killed_by"] == "wall"
    assert report["peak_processes"] is not None and report["peak_processes"] <= 16
    assert time.monotonic() - start < 3 + GRACE_S
    assert released(outcome) == {}
    # The host still forks, and the next job runs normally.
    assert run_code(world, "print('alive')").report["stdout"]["tail"] == "alive\n"


def test_attack_when_spawning_without_a_cgroup_then_the_process_cap_still_holds(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(jail._Cgroup, "ROOT", tmp_path / "no-cgroups")
    outcome = run_code(
        world,
        """
        import json, subprocess
        children = []
        try:
            for _ in range(40):
                children.append(subprocess.Popen(["sleep", "60"]))
        except OSError as e:
            print(json.dumps({"spawned": len(children), "error": type(e).__name__}), flush=True)
        """,
        processes=16,
    )
    report = outcome.report
    assert report["process_cap"] == "watchdog"
    if report["killed_by"] != "processes":  # RLIMIT_NPROC of the jail's own host uid came first
        found = result(outcome)
        assert found["error"] == "BlockingIOError" and found["spawned"] < 16
    assert report["wall_s"] < 15


def test_attack_when_allocating_without_end_then_memory_error_inside(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json
        hoard = []
        try:
            while True:
                hoard.append(bytearray(64 * 1024 * 1024))
        except MemoryError:
            got = len(hoard) * 64
        print(json.dumps(got))
        """,
        memory_bytes=512 * MIB,
    )
    assert outcome.report["exit_code"] == 0
    assert result(outcome) < 512


def test_attack_when_many_processes_share_the_memory_then_the_total_is_capped(
    world: World,
) -> None:
    if (
        not Path("/sys/fs/cgroup/memory/tasks").exists()
        and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    ):
        pytest.skip("no memory cgroup on this host: only the per-process cap holds")
    outcome = run_code(
        world,
        """
        import json, os, time
        for _ in range(4):
            if os.fork() == 0:
                hoard = bytearray(200 * 1024 * 1024)  # each below the per-process cap
                for i in range(0, len(hoard), 4096):
                    hoard[i] = 1
                time.sleep(1)
                os._exit(0)
        statuses = [os.wait()[1] for _ in range(4)]
        print(json.dumps([os.WIFSIGNALED(s) and os.WTERMSIG(s) for s in statuses]))
        """,
        memory_bytes=300 * MIB,
    )
    # 4 × 200 MiB against a 316 MiB total (300 + the two 8 MiB tmpfs): at most one survives.
    assert result(outcome).count(9) >= 3
    assert outcome.report["killed_by"] == "memory"


def test_attack_when_looking_for_inherited_descriptors_then_only_stdio_is_open(
    world: World,
) -> None:
    fd = os.open(world.secret_file, os.O_RDONLY)
    os.set_inheritable(fd, True)
    try:
        outcome = run_code(
            world,
            f"""
            import json, os
            fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
            try:
                data = os.pread({fd}, 100, 0).decode()
            except OSError as e:
                data = type(e).__name__
            print(json.dumps({{"fds": fds, "read": data}}))
            """,
        )
    finally:
        os.close(fd)
    found = result(outcome)
    assert found["read"] == "OSError"  # EBADF: the descriptor was closed before bwrap ran
    assert found["fds"] == [0, 1, 2, 3]  # 3: the listing itself
    assert_no_leak(world, outcome)


def test_attack_when_spinning_the_cpu_then_the_cpu_limit_kills_it(world: World) -> None:
    start = time.monotonic()
    outcome = run_code(world, "while True: pass", cpu_s=2, wall_s=30, cpu_percent=100)
    assert outcome.report["killed_by"] == "cpu", outcome.report
    assert 1.5 <= outcome.report["cpu_s"] <= 2 + GRACE_S, outcome.report
    assert time.monotonic() - start < 30  # the CPU limit, not the wall clock, ended it


def test_attack_when_sleeping_forever_then_the_wall_clock_kills_it(world: World) -> None:
    start = time.monotonic()
    outcome = run_code(world, "import time; time.sleep(3600)", wall_s=2)
    assert outcome.report["killed_by"] == "wall" and outcome.report["exit_code"] is None
    assert time.monotonic() - start < 2 + GRACE_S


def test_attack_when_filling_output_then_the_tmpfs_cap_holds(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json
        written = 0
        try:
            for i in range(1000):
                with open(f"/output/fill-{i}.txt", "w") as f:
                    for _ in range(4):
                        f.write("a" * (1024 * 1024 - 1) + "\\n")
                        written += 1024 * 1024
        except OSError as e:
            print(json.dumps({"error": e.errno, "written": written}))
        """,
        output_files=20,
    )
    found = result(outcome)
    assert found["error"] == 28  # ENOSPC
    assert found["written"] <= LIMITS["output_bytes"]
    assert sum(len(b) for b in released(outcome).values()) <= LIMITS["output_bytes"]


def test_attack_when_filling_tmp_then_the_tmpfs_cap_holds(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json
        written = 0
        try:
            for i in range(1000):
                with open(f"/tmp/fill-{i}", "wb") as f:
                    for _ in range(4):
                        f.write(b"a" * 1024 * 1024)
                        written += 1024 * 1024
        except OSError as e:
            print(json.dumps({"error": e.errno, "written": written}))
        """,
    )
    found = result(outcome)
    assert found["error"] == 28
    assert found["written"] <= LIMITS["tmp_bytes"]


def test_attack_when_writing_one_huge_file_then_the_file_size_limit_stops_it(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json
        try:
            with open("/output/big.txt", "w") as f:
                f.write("a" * (6 * 1024 * 1024))
        except OSError as e:
            print(json.dumps(e.errno))
        """,
        output_bytes=16 * MIB,
    )
    assert result(outcome) == 27  # EFBIG
    assert all(len(b) <= LIMITS["file_size_bytes"] for b in released(outcome).values())


def test_attack_when_writing_too_many_output_files_then_none_is_released(world: World) -> None:
    outcome = run_code(
        world,
        """
        for i in range(25):
            open(f"/output/part-{i}.csv", "w").write("a\\n1\\n")
        """,
    )
    assert released(outcome) == {}
    assert outcome.report["rejected"] == [{"name": "*", "reason": "more than 20 files in /output"}]


def test_attack_when_printing_a_flood_then_only_the_tail_is_kept(world: World) -> None:
    outcome = run_code(
        world,
        """
        import sys
        for _ in range(320):
            sys.stdout.write("x" * 65535 + "\\n")
        print("END")
        """,
    )
    assert outcome.report["stdout"]["bytes"] == 320 * 65536 + 4
    assert len(stdout(outcome)) <= jail.STREAM_TAIL
    assert stdout(outcome).endswith("END\n")


# -- tricks in /output ----------------------------------------------------------------------------


def test_attack_when_output_holds_symlinks_then_they_are_refused(world: World) -> None:
    outcome = run_code(
        world,
        f"""
        import os
        os.symlink({str(world.secret_file)!r}, "/output/secret.txt")
        os.symlink("/data/people.parquet", "/output/people.parquet")
        os.symlink("/etc/passwd", "/output/passwd.txt")
        """,
    )
    assert released(outcome) == {}
    assert {r["reason"] for r in outcome.report["rejected"]} == {"a symbolic link"}
    assert len(outcome.report["rejected"]) == 3
    assert_no_leak(world, outcome)


def test_attack_when_output_holds_a_fifo_then_it_is_refused_without_hanging(world: World) -> None:
    outcome = run_code(
        world, "import os; os.mkfifo('/output/pipe.txt'); os.mkfifo('/output/p.csv')"
    )
    assert released(outcome) == {}
    assert {r["reason"] for r in outcome.report["rejected"]} == {
        "not a regular file (FIFO, socket or device)"
    }


def test_attack_when_output_holds_hard_links_then_they_are_refused(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json, os
        open("/output/a.txt", "w").write("a")
        os.link("/output/a.txt", "/output/b.txt")
        try:
            os.link("/data/people.parquet", "/output/people.parquet")
            out = "linked"
        except OSError as e:
            out = e.errno
        print(json.dumps(out))
        """,
    )
    assert result(outcome) == 18  # EXDEV: the data is on another file system
    assert released(outcome) == {}
    assert {r["reason"] for r in outcome.report["rejected"]} == {"a hard link"}


def test_attack_when_output_has_disallowed_suffixes_then_they_are_refused(world: World) -> None:
    outcome = run_code(
        world,
        """
        for name in ("tool.exe", "model.pkl", "run.sh", "bundle.zip", ".hidden.txt", "ok.txt"):
            open("/output/" + name, "wb").write(b"MZ\\x90\\x00" if name.endswith("exe") else b"x")
        """,
    )
    assert sorted(by_code_name(outcome)) == ["ok.txt"]
    assert sorted(r["name"] for r in outcome.report["rejected"]) == [
        ".hidden.txt",
        "bundle.zip",
        "model.pkl",
        "run.sh",
        "tool.exe",
    ]


def test_attack_when_a_pickle_is_named_parquet_then_content_sniffing_refuses_it(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import pickle
        open("/output/model.parquet", "wb").write(pickle.dumps({"weights": [1, 2, 3]}))
        open("/output/fake.png", "wb").write(b"not a png at all")
        open("/output/table.csv", "wb").write(b"a,b\\n\\x00\\x01binary")
        open("/output/data.json", "w").write("{not json")
        """,
    )
    assert released(outcome) == {}
    reasons = {r["name"]: r["reason"] for r in outcome.report["rejected"]}
    assert reasons == {
        "data.json": "not valid JSON",
        "fake.png": "not a PNG image (no PNG signature)",
        "model.parquet": "not a Parquet file (no Parquet magic at both ends)",
        "table.csv": "text with control characters",
    }


# -- escaping the jail ----------------------------------------------------------------------------


def test_attack_when_walking_subclasses_to_a_shell_then_the_shell_is_jailed_too(
    world: World,
) -> None:
    outcome = run_code(
        world,
        f"""
        import json
        for cls in ().__class__.__base__.__subclasses__():
            if cls.__name__ == "_wrap_close":
                system = cls.__init__.__globals__["popen"]
                break
        out = system("id -u; cat {world.secret_file} 2>&1; ls /proc | grep -c '^[0-9]'").read()
        print(json.dumps(out.split("\\n")))
        """,
    )
    uid, cat, pids, _ = result(outcome)
    assert uid == "65534"
    assert "No such file" in cat
    assert int(pids) <= 5  # pid 1, python, sh, ls, grep
    assert_no_leak(world, outcome)


def test_attack_when_calling_setuid_and_mount_through_ctypes_then_both_fail(world: World) -> None:
    outcome = run_code(
        world,
        """
        import ctypes, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        os.makedirs("/tmp/m", exist_ok=True)
        calls = {
            "setuid": libc.setuid(0),
            "setresuid": libc.setresuid(0, 0, 0),
            "mount": libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None),
            "remount_data_rw": libc.mount(None, b"/data", None, 32 | 4096, None),
            "chroot": libc.chroot(b"/tmp"),
        }
        print(json.dumps({"calls": calls, "uid": os.getuid(), "euid": os.geteuid()}))
        """,
    )
    assert result(outcome) == {
        "calls": {"setuid": -1, "setresuid": -1, "mount": -1, "remount_data_rw": -1, "chroot": -1},
        "uid": 65534,
        "euid": 65534,
    }


def test_attack_when_killing_or_tracing_every_process_then_nothing_outside_dies(
    world: World,
) -> None:
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        outcome = run_code(
            world,
            f"""
            import ctypes, json, os, signal
            out = {{}}
            try:
                os.kill({sentinel.pid}, signal.SIGKILL)
                out["direct"] = "sent"
            except OSError as e:
                out["direct"] = type(e).__name__
            libc = ctypes.CDLL(None, use_errno=True)
            out["ptrace"] = libc.ptrace(16, {sentinel.pid}, None, None)  # PTRACE_ATTACH
            out["ptrace_parent"] = libc.ptrace(16, {os.getpid()}, None, None)
            print(json.dumps(out), flush=True)
            os.kill(-1, signal.SIGKILL)
            """,
        )
        assert result(outcome) == {
            "direct": "ProcessLookupError",
            "ptrace": -1,
            "ptrace_parent": -1,
        }
        assert sentinel.poll() is None
    finally:
        sentinel.kill()
        sentinel.wait()


def test_attack_when_opening_host_sysctls_for_writing_then_permission_denied(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import json, os
        out = {}
        for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches",
                     "/proc/sys/kernel/panic", "/proc/sys/fs/file-max"):
            try:
                os.close(os.open(path, os.O_WRONLY))  # opened, never written
                out[path] = "writable"
            except OSError as e:
                out[path] = type(e).__name__
        print(json.dumps(sorted(set(out.values()))))
        """,
    )
    # The jailed uid is an unprivileged host uid, not root: host-wide sysctls stay closed.
    assert result(outcome) == ["PermissionError"]


def test_attack_when_writing_site_packages_then_it_is_read_only(world: World) -> None:
    runtime = jail.Runtime.current()
    host_site_packages, site_packages = runtime.binds[1]
    target = Path(host_site_packages) / f"evil_{world.token}.pth"
    inside = f"{site_packages}/{target.name}"
    outcome = run_code(
        world,
        f"""
        import json
        try:
            open({inside!r}, "w").write("import os")
            out = "written"
        except OSError as e:
            out = e.errno
        print(json.dumps(out))
        """,
    )
    assert result(outcome) == 30  # EROFS
    assert not target.exists()


def test_attack_when_running_setuid_binaries_then_they_gain_nothing(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json, os, stat, subprocess
        setuid = [
            n for n in os.listdir("/usr/bin") if os.lstat("/usr/bin/" + n).st_mode & stat.S_ISUID
        ]
        mount = subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp"], capture_output=True)
        su = subprocess.run(["su", "-c", "id -u"], capture_output=True, stdin=subprocess.DEVNULL)
        usr = [l for l in open("/proc/self/mountinfo") if " /usr/bin " in l][0]
        print(json.dumps({"setuid": len(setuid), "mount": mount.returncode, "su": su.returncode,
                          "su_out": su.stdout.decode(), "nosuid": "nosuid" in usr}))
        """,
    )
    found = result(outcome)
    assert found["setuid"] > 0  # the binaries are there ...
    assert found["nosuid"] and found["mount"] != 0 and found["su"] != 0  # ... and powerless
    assert "0" not in found["su_out"].split()


def test_attack_when_unsharing_namespaces_then_it_is_refused(world: World) -> None:
    outcome = run_code(
        world,
        """
        import ctypes, json, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
        calls = [libc.unshare(CLONE_NEWUSER), libc.unshare(CLONE_NEWNS), libc.unshare(CLONE_NEWNET)]
        tool = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True).returncode
        print(json.dumps({"calls": calls, "tool": tool}))
        """,
    )
    found = result(outcome)
    assert found["calls"] == [-1, -1, -1]
    assert found["tool"] != 0


def test_attack_when_writing_outside_output_and_tmp_then_every_write_fails(world: World) -> None:
    outcome = run_code(
        world,
        """
        import json
        paths = ["/x", "/data/x", "/data/people.parquet", "/code/x", "/code/main.py",
                 "/etc/x", "/etc/passwd", "/usr/x", "/proc/x", "/dev/x", "/bin/x"]
        written = []
        for p in paths:
            try:
                open(p, "a").write("x")
                written.append(p)
            except OSError:
                pass
        print(json.dumps(written))
        """,
    )
    assert result(outcome) == []
    assert pl.read_parquet(world.people).height == 5


def test_attack_when_the_archive_holds_a_traversal_then_the_job_is_refused(world: World) -> None:
    escape = world.root / "escaped.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("main.py", "print('hi')")
        zf.writestr("../" * 12 + str(escape).lstrip("/"), "print('escaped')")
    import base64

    task = Task(
        job_id=8,
        spec={
            "kind": "custom",
            "datasets": ["people"],
            "archive": base64.b64encode(buffer.getvalue()).decode(),
        },
        inputs={"people": world.people},
        row_counts={"people": 5},
        output_path=str(world.quarantine / "job-8.parquet"),
        min_cell=10,
        options={"limits": LIMITS},
    )
    with pytest.raises(InvalidJobSpec, match=r"'\.\.'"):
        run(task)
    assert not escape.exists()
    assert not (world.quarantine / "job-8.zip").exists()


def test_attack_when_the_archive_is_honest_then_its_modules_import(world: World) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/helper.py", "def answer():\n    return 42\n")
        zf.writestr(
            "job/run.py",
            "import sys; sys.path.insert(0, '/code')\n"
            "from pkg.helper import answer\nprint(answer())\n",
        )
    import base64

    task = Task(
        job_id=9,
        spec={
            "kind": "custom",
            "datasets": ["people"],
            "archive": base64.b64encode(buffer.getvalue()).decode(),
            "entrypoint": "job/run.py",
        },
        inputs={"people": world.people},
        row_counts={"people": 5},
        output_path=str(world.quarantine / "job-9.parquet"),
        min_cell=10,
        options={"limits": LIMITS},
    )
    assert run(task).report["stdout"]["tail"] == "42\n"


# -- outputs that attack the host or hide data (issue 13) ------------------------------------------


def _work_folders() -> list[Path]:
    """The private host folders of this process's runs (wrapper and jail)."""
    root = Path(tempfile.gettempdir())
    return [
        p
        for prefix in ("sandbox-custom-", "sandbox-jail-")
        for p in root.glob(f"{prefix}{os.getpid()}-*")
    ]


def test_attack_when_writing_sparse_pngs_then_nothing_is_copied_and_the_run_fails_review(
    world: World,
) -> None:
    start = time.monotonic()
    outcome = run_code(
        world,
        """
        for i in range(8):
            with open(f"/output/plot-{i}.png", "wb") as f:
                f.write(b"\\x89PNG\\r\\n\\x1a\\n")
                f.truncate(4 * 1024 * 1024)  # a hole: the tmpfs stores almost nothing
        """,
    )
    assert outcome.report["exit_code"] == 0
    assert released(outcome) == {}
    [refused] = outcome.report["rejected"]
    assert refused["name"] == "*" and "sparse files count" in refused["reason"]
    assert outcome.report["problems"] == ["1 files were refused at the jail's door"]
    assert time.monotonic() - start < 30
    assert _work_folders() == []


def test_attack_when_hiding_data_in_an_images_low_bits_then_the_released_image_lost_it(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import hashlib
        from PIL import Image
        payload = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(200))
        bits = [(b >> i) & 1 for b in payload for i in range(8)]
        pixels = bytearray(v for y in range(64) for x in range(256) for v in (x, y * 4, 255 - x))
        for i, bit in enumerate(bits[: len(pixels)]):
            pixels[i] = (pixels[i] & 0xFE) | bit
        Image.frombytes("RGB", (256, 64), bytes(pixels)).save("/output/gradient.png")
        """,
    )
    import hashlib

    from PIL import Image

    [(name, data)] = released(outcome).items()
    assert name == "file-1.png"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (256, 64)
    payload = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(200))
    bits = [(b >> i) & 1 for b in payload for i in range(8)]
    low = [v & 1 for v in image.tobytes()][: len(bits)]
    assert 0.3 < sum(a == b for a, b in zip(low, bits, strict=False)) / len(low) < 0.7
    assert "person must look" in outcome.report["image_note"]


def test_attack_when_spelling_ids_in_file_names_then_released_names_are_the_sandboxs(
    world: World,
) -> None:
    ids = [f"32010619900307{i:04d}" for i in range(10)]
    outcome = run_code(
        world,
        f"""
        import base64
        for i, rid in enumerate({ids!r}):
            name = base64.b32encode(rid.encode()).decode().strip("=")
            open(f"/output/{{name}}.csv", "w").write(f"n\\\\n{{i}}\\\\n")
        """,
    )
    names = sorted(released(outcome))
    assert names == sorted(f"file-{i}.csv" for i in range(1, 11))
    import base64

    hidden = [base64.b32encode(r.encode()).decode().strip("=") for r in ids]
    blob = " ".join(names)
    assert not any(h[:8] in blob for h in hidden)
    # The reviewer reads the code's names in the report, as data.
    assert sorted(str(f["code_name"]) for f in outcome.report["files"]) == sorted(
        f"{h}.csv" for h in hidden
    )


def test_attack_when_calling_syscalls_outside_the_seccomp_filter_then_eperm(world: World) -> None:
    outcome = run_code(
        world,
        """
        import ctypes, json, os
        import numpy as np, polars as pl, pyarrow as pa  # the stack still works
        libc = ctypes.CDLL(None, use_errno=True)
        def call(number, *args):
            result = libc.syscall(number, *args)
            return [result, ctypes.get_errno()]
        params = ctypes.create_string_buffer(120)
        out = {
            "io_uring_setup": call(425, 1, params),
            "keyctl": call(250, 0, -1, 0),  # KEYCTL_GET_KEYRING_ID
            "add_key": call(248, b"user", b"k", b"v", 1, -2),
            "bpf": call(321, 0, None, 0),
            "perf_event_open": call(298, None, 0, -1, -1, 0),
            "userfaultfd": call(323, 0),
            "ptrace_pid_1": call(101, 16, 1, None, None),  # PTRACE_ATTACH pid 1
            "unshare": call(272, 0x00020000),
            "stack": [float(np.arange(4).sum()), pl.DataFrame({"a": [1, 2]}).height,
                      pa.table({"a": [1]}).num_rows],
        }
        print(json.dumps(out))
        """,
    )
    found = result(outcome)
    assert found.pop("stack") == [6.0, 2, 1]
    assert found == {name: [-1, 1] for name in found}  # EPERM, every one
    assert outcome.report["exit_code"] == 0 and outcome.report["killed_by"] is None


def test_attack_when_reading_pid_1_and_mounts_then_no_host_path_of_the_service_shows(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import json
        out = {}
        for path in ("/proc/1/environ", "/proc/1/cmdline", "/proc/self/mountinfo"):
            out[path] = open(path, "rb").read().decode("latin-1")
        print(json.dumps(out))
        """,
    )
    found = result(outcome)
    checkout = str(Path(jail.__file__).resolve().parents[1])
    hidden = [checkout, os.getcwd(), str(world.root), "sandbox-custom-", "sandbox-jail-"]
    # pid 1 is the jailed interpreter itself (--as-pid-1), bound under a neutral path.
    assert found["/proc/1/cmdline"].split("\0")[:2] == [
        f"{jail.JAIL_RUNTIME}/python/bin/python3.{sys.version_info.minor}",
        "/code/main.py",
    ]
    for path in [*hidden, sys.base_prefix, os.path.realpath(sys.base_prefix)]:
        assert path not in found["/proc/1/cmdline"]
        assert path not in found["/proc/1/environ"]
    assert world.token not in found["/proc/1/environ"]
    assert "/code" not in found["/proc/self/mountinfo"]  # the code is copied in, not bound
    runtime = [src for src, _ in jail.Runtime.current().binds]
    for line in found["/proc/self/mountinfo"].splitlines():
        source = line.split()[3]
        if any(source == src for src in runtime) or line.split()[4] == "/data":
            continue  # documented: bound host folders show their source path
        assert not any(path in line for path in hidden), line


def test_custom_when_a_killed_worker_left_folders_then_the_next_run_removes_them(
    world: World,
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    root = Path(tempfile.gettempdir())
    stale = [root / f"sandbox-custom-{gone.pid}-x1", root / f"sandbox-jail-{gone.pid}-x2"]
    for folder in stale:
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "big.bin").write_bytes(b"x" * 1024)
    outcome = run_code(world, "print('ok')")
    assert stdout(outcome) == "ok\n"
    assert [f for f in stale if f.exists()] == []
    assert _work_folders() == []


def test_attack_when_opening_socket_families_beyond_ip_and_unix_then_eperm(world: World) -> None:
    # AF_VSOCK would reach the hypervisor of a VM whatever the network namespace; no
    # connection is attempted, creating the socket is the whole test.
    outcome = run_code(
        world,
        """
        import json, socket
        out = {}
        families = {"vsock": 40, "packet": 17, "bluetooth": 31, "alg": 38, "unspec": 0}
        for name, family in families.items():
            kind = socket.SOCK_RAW if name == "packet" else socket.SOCK_STREAM
            try:
                socket.socket(family, kind, 0)
                out[name] = "created"
            except OSError as err:
                out[name] = err.errno
        try:
            socket.socketpair(40, socket.SOCK_STREAM)
            out["socketpair_vsock"] = "created"
        except OSError as err:
            out["socketpair_vsock"] = err.errno
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(41, ctypes.c_ulong((1 << 32) + 40), 1, 0)  # socket(2) with high bits
        out["raw_high_bits"] = ctypes.get_errno() if fd < 0 else "created"
        a, b = socket.socketpair(socket.AF_UNIX)
        a.sendall(b"ok")
        out["unix"] = b.recv(2).decode()
        out["inet"] = socket.socket(socket.AF_INET).family.value
        out["inet6"] = socket.socket(socket.AF_INET6).family.value
        print(json.dumps(out))
        """,
    )
    found = result(outcome)
    assert found.pop("unix") == "ok" and found.pop("inet") == 2 and found.pop("inet6") == 10
    assert found == {
        name: 1
        for name in (
            "vsock",
            "packet",
            "bluetooth",
            "alg",
            "unspec",
            "socketpair_vsock",
            "raw_high_bits",
        )
    }  # EPERM from the seccomp filter


def test_attack_when_writing_pid_1_memory_then_there_is_no_bubblewrap_to_reach(
    world: World,
) -> None:
    outcome = run_code(
        world,
        """
        import json, os
        out = {"pid": os.getpid(), "comm": open("/proc/1/comm").read().strip()}
        try:
            with open("/proc/1/mem", "r+b", buffering=0):
                out["mem"] = "opened"
        except OSError as err:
            out["mem"] = err.errno
        out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print(json.dumps(out))
        """,
    )
    found = result(outcome)
    # The code is pid 1: /proc/1/mem is its own memory, bubblewrap is not in the jail.
    assert found["pid"] == 1 and found["comm"].startswith("python")
    assert found["pids"] == [1]


def test_attack_when_spinning_cpu_then_it_runs_at_nice_19_in_a_cpu_quota(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, str] = {}
    remove = jail._Cgroup._remove

    def record(group: jail._Cgroup) -> None:
        for path in group.dirs.values():
            for name in ("cpu.max", "cpu.weight", "cpu.cfs_quota_us", "cpu.shares"):
                if (path / name).is_file():
                    seen[name] = (path / name).read_text().strip()
        remove(group)

    monkeypatch.setattr(jail._Cgroup, "_remove", record)
    outcome = run_code(
        world,
        """
        import os, json
        print(json.dumps({"nice": os.nice(0)}))
        """,
        cpu_percent=25,
    )
    assert result(outcome) == {"nice": 19}
    if Path("/sys/fs/cgroup/cpu/tasks").is_file():
        assert seen["cpu.cfs_quota_us"] == "25000" and seen["cpu.shares"] == "2"
    elif Path("/sys/fs/cgroup/cgroup.controllers").is_file() and "cpu.max" in seen:
        assert seen["cpu.max"] == "25000 100000" and seen["cpu.weight"] == "1"


def test_custom_when_the_dataset_is_copied_for_the_jail_then_no_other_user_reaches_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.kinds.custom import engine as custom

    modes: dict[str, int] = {}
    real = custom.run_jailed

    def inspect(*args: Any, **kwargs: Any) -> Any:
        [data] = kwargs["ro_binds"]
        modes["work"] = os.stat(Path(data).parent).st_mode & 0o777
        modes["data"] = os.stat(data).st_mode & 0o777
        modes["file"] = os.stat(Path(data) / "people.parquet").st_mode & 0o777
        return real(*args, **kwargs)

    monkeypatch.setattr(custom, "run_jailed", inspect)
    outcome = run_code(world, "print(len(open('/data/people.parquet', 'rb').read()) > 0)")
    assert stdout(outcome) == "True\n"  # the jail still reads its data
    assert modes["work"] == 0o700  # nobody but the service enters the work folder
    assert modes["file"] & 0o222 == 0  # read-only
    if os.geteuid() != 0:  # the jail shares the service's uid: owner-only throughout
        assert modes["data"] == 0o700 and modes["file"] == 0o400
