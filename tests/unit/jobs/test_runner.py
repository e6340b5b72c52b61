"""The runner and Ray's functions ask the job's kind; none of them knows a kind's name.

Ray itself is replaced by a recorder here (the ``ray`` tests run the real one):
what matters is which functions the runner sends, with which reservations
and time limit, and that a kind registered by a test runs like a built-in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from jobs import distributed
from jobs.errors import InternalError, RunnerStopped
from jobs.kinds import KINDS
from jobs.runner import Outcome, RayRunner, Task, execute
from tests.unit.jobs.kinds.toy import PartitionedToy, Toy


def _task(tmp_path: Path, spec: dict[str, Any], **changes: Any) -> Task:
    task = Task(
        job_id=3,
        spec=spec,
        inputs={"d": str(tmp_path / "d" / "part-*.parquet")},
        row_counts={"d": 100},
        output_path=str(tmp_path / "job-3.parquet"),
        min_cell=10,
    )
    return dataclasses.replace(task, **changes)


TOY = {"kind": "toy", "dataset": "d", "note": "hello"}
AGGREGATE = {"kind": "aggregate", "dataset": "d", "epsilon": 1.0, "aggregates": [{"op": "count"}]}


def _stored_partitions(tmp_path: Path, count: int) -> None:
    """``count`` (empty) partition files of dataset ``d``: the runner only lists them."""
    folder = tmp_path / "d"
    folder.mkdir()
    for number in range(count):
        (folder / f"part-{number:05d}.parquet").write_bytes(b"")


def test_execute_when_toy_kind_then_its_run_runs(tmp_path: Path) -> None:
    toy = Toy()
    with KINDS.registered(toy):
        outcome = execute(_task(tmp_path, TOY))
    assert toy.calls == ["run"]
    assert Path(outcome.output_path).read_text() == "hello"


def test_single_when_toy_kind_then_the_outcome_as_plain_values(tmp_path: Path) -> None:
    toy = Toy()
    with KINDS.registered(toy):
        result = distributed.single(asdict(_task(tmp_path, TOY)))
    assert Outcome(**result).rows == 1 and toy.calls == ["run"]


def test_partial_and_finish_when_partitioned_toy_then_combined_once(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for number, size in enumerate((3, 5)):
        (folder / f"part-{number:05d}.parquet").write_bytes(b"x" * size)
    toy = PartitionedToy()
    task = _task(tmp_path, TOY)
    with KINDS.registered(toy):
        parts = [distributed.partial(asdict(task), f) for f in toy.partitions(task)]
        result = distributed.finish(asdict(task), *parts)
    assert toy.calls == ["partial", "partial", "finish"]
    assert Path(result["output_path"]).read_text() == "8" and result["rows"] == 2


def test_partial_when_kind_is_not_partitioned_then_internal_error(tmp_path: Path) -> None:
    with KINDS.registered(Toy()), pytest.raises(InternalError, match="not partitioned"):
        distributed.partial(asdict(_task(tmp_path, TOY)), "part-00000.parquet")


class _Remote:
    """Stands in for a Ray remote function: records its reservations and calls."""

    def __init__(self, name: str, log: list[tuple[str, Any]]) -> None:
        self.name, self.log = name, log

    def options(self, **options: Any) -> _Remote:
        self.log.append((f"{self.name}.options", options))
        return self

    def remote(self, *args: Any) -> str:
        self.log.append((self.name, len(args)))
        return f"ref-{self.name}-{len(self.log)}"


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> tuple[RayRunner, list[tuple[str, Any]]]:
    ray = pytest.importorskip("ray")
    log: list[tuple[str, Any]] = []
    runner = RayRunner(timeout_s=600.0)
    runner._partial, runner._finish, runner._single = (
        _Remote("partial", log),
        _Remote("finish", log),
        _Remote("single", log),
    )
    monkeypatch.setattr(ray, "is_initialized", lambda: True)

    def get(ref: str, timeout: float) -> dict[str, Any]:
        log.append(("get", timeout))
        return asdict(Outcome("out", "0" * 64, rows=1, epsilon=0.0, delta=0.0))

    monkeypatch.setattr(ray, "get", get)
    return runner, log


def test_run_when_custom_then_no_cpu_slot_wrapper_memory_and_the_jails_time(
    tmp_path: Path, fake_ray: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    runner, log = fake_ray
    spec = {"kind": "custom", "datasets": ["d"], "source": "print(1)"}
    task = _task(tmp_path, spec, options={"limits": {"wall_s": 3600}})
    runner.run(task)
    assert log == [
        ("single.options", {"num_cpus": 0, "memory": 512 * 1024 * 1024}),
        ("single", 1),
        ("get", 3660.0),
    ]


def test_run_when_aggregate_then_one_partial_per_partition_and_one_finish(
    tmp_path: Path, fake_ray: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    runner, log = fake_ray
    _stored_partitions(tmp_path, 3)
    runner.run(_task(tmp_path, AGGREGATE))
    # one CPU a task, and polars in it on one thread (not one a core in every worker)
    reserve = {"num_cpus": 1, "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}}
    partial = [("partial.options", reserve), ("partial", 2)]
    assert log == partial * 3 + [("finish.options", reserve), ("finish", 4), ("get", 600.0)]


def test_run_when_aggregate_without_partitions_then_internal_error(
    tmp_path: Path, fake_ray: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    runner, _ = fake_ray
    with pytest.raises(InternalError, match="no stored partitions"):
        runner.run(_task(tmp_path, AGGREGATE))


@pytest.mark.parametrize("name", ["extract", "train"])
def test_run_when_whole_dataset_kind_then_one_task_with_rays_defaults(
    name: str, tmp_path: Path, fake_ray: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    runner, log = fake_ray
    specs: dict[str, dict[str, Any]] = {
        "extract": {"kind": "extract", "dataset": "d", "columns": ["age"]},
        "train": {
            "kind": "train",
            "dataset": "d",
            "model": {"type": "kmeans", "n_clusters": 2},
            "features": [{"column": "age", "lower": 0, "upper": 1}],
            "epsilon": 1.0,
        },
    }
    runner.run(_task(tmp_path, specs[name]))
    assert log == [("single", 1), ("get", 600.0)]


def test_run_when_toy_kind_then_its_reservations_and_time_limit(
    tmp_path: Path, fake_ray: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    runner, log = fake_ray
    with KINDS.registered(Toy()):
        runner.run(_task(tmp_path, TOY))
    assert log == [("single.options", {"num_cpus": 0.5}), ("single", 1), ("get", 300.0)]


def test_modules_when_read_then_no_import_cycle_through_the_runner() -> None:
    import ast

    jobs = Path(__file__).resolve().parents[3] / "jobs"

    def imports(module: str) -> set[str]:
        tree = ast.parse((jobs / f"{module}.py").read_text(encoding="utf-8"))
        return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}

    # Ray's functions and the task module never import the runner (it imports them)
    assert "jobs.runner" not in imports("distributed")
    assert not {"jobs.runner", "jobs.distributed"} & imports("task")


def test_ready_when_ray_is_not_connected_then_false_without_starting_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "nodes", lambda: pytest.fail("asked a Ray that is not there"))
    assert RayRunner().ready() is False


@pytest.mark.parametrize(
    ("nodes", "ready"), [([{"Alive": True}], True), ([{"Alive": False}], False)]
)
def test_ready_when_the_cluster_answers_then_whether_a_node_lives(
    monkeypatch: pytest.MonkeyPatch, nodes: list[dict[str, bool]], ready: bool
) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    assert RayRunner().ready() is ready


def test_ready_when_the_cluster_hangs_then_false_in_time_and_one_probe_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    import time

    ray = pytest.importorskip("ray")
    release, calls = threading.Event(), []

    def nodes() -> list[dict[str, bool]]:
        calls.append(1)
        release.wait(10)
        return [{"Alive": True}]

    def broken() -> list[dict[str, bool]]:
        raise ConnectionError("gcs at 10.0.0.9:6379 unreachable")

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "nodes", nodes)
    runner = RayRunner()
    assert runner.ready(timeout_s=0.05) is False
    assert runner.ready(timeout_s=5) is False  # the hung probe still holds: no second one
    assert calls == [1]
    release.set()
    for _ in range(500):  # the hung probe ends, and the next one is asked
        if runner.ready(timeout_s=5):
            break
        time.sleep(0.01)
    assert len(calls) >= 2
    monkeypatch.setattr(ray, "nodes", broken)
    assert runner.ready(timeout_s=5) is False


def _cancelled(kind: str) -> Exception:
    """What ``ray.get`` raises on a cancelled task: its own error, or (a part cancelled
    under a finishing task) the finishing task's error wrapping the part's."""
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

    if kind == "own":
        return TaskCancelledError()
    return RayTaskError("finish", "Traceback: ...", WorkerCrashedError())


@pytest.fixture(params=["own", "wrapped"])
def stoppable(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    fake_ray: tuple[RayRunner, list[tuple[str, Any]]],
) -> tuple[RayRunner, list[tuple[str, Any]]]:
    """The recorder, with a ``ray.get`` that waits until its ref is cancelled."""
    import threading
    import time

    ray = pytest.importorskip("ray")
    runner, log = fake_ray
    cancelled: set[str] = set()
    changed = threading.Condition()

    def get(ref: str, timeout: float) -> dict[str, Any]:
        log.append(("get", ref))
        with changed:
            if not changed.wait_for(lambda: ref in cancelled, timeout=10):
                pytest.fail("the run's task was never cancelled")
        time.sleep(0.05)  # a stop that did not wait for this thread would shut Ray down now
        log.append(("get raised", ref))
        raise _cancelled(request.param)

    def cancel(ref: str, force: bool) -> None:
        log.append(("cancel", ref))
        with changed:
            cancelled.add(ref)
            changed.notify_all()

    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(ray, "cancel", cancel)
    monkeypatch.setattr(ray, "shutdown", lambda: log.append(("shutdown", None)))
    return runner, log


def test_stop_when_a_run_waits_on_ray_then_cancelled_and_ray_stops_after_it_left(
    tmp_path: Path,
    stoppable: tuple[RayRunner, list[tuple[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Ray's exit-time shutdown under a thread still in ray.get ends the process with 1
    import threading
    import time

    runner, log = stoppable
    _stored_partitions(tmp_path, 2)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(_task(tmp_path, AGGREGATE))
        except BaseException as err:
            raised.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(1000):
        if any(step == "get" for step, _ in log):
            break
        time.sleep(0.01)
    runner.stop()
    thread.join(10)
    finish = "ref-finish-6"
    assert [entry for entry in log if entry[0] not in ("partial", "partial.options")] == [
        (
            "finish.options",
            {"num_cpus": 1, "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}},
        ),
        ("finish", 3),
        ("get", finish),
        ("cancel", finish),  # the finishing task first, then its inputs
        ("cancel", "ref-partial-2"),
        ("cancel", "ref-partial-4"),
        ("get raised", finish),
        ("shutdown", None),  # only once the run has left Ray
    ]
    assert len(raised) == 1 and isinstance(raised[0], RunnerStopped)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no "failed in Ray"
    with pytest.raises(RunnerStopped):  # later runs are refused and send nothing
        runner.run(_task(tmp_path, TOY))
    assert log[-1] == ("shutdown", None)
    assert runner.ready() is False


def test_stop_when_it_begins_before_a_run_waits_then_the_run_cancels_its_own_tasks(
    tmp_path: Path, stoppable: tuple[RayRunner, list[tuple[str, Any]]]
) -> None:
    import threading
    import time

    runner, log = stoppable
    stopper = threading.Thread(target=runner.stop)

    class StoppedMeanwhile(_Remote):
        def remote(self, *args: Any) -> str:
            stopper.start()  # the stop begins between the submission and the wait
            while not runner._stopped:
                time.sleep(0.001)
            return super().remote(*args)

    runner._single = StoppedMeanwhile("single", log)
    with pytest.raises(RunnerStopped):
        runner.run(_task(tmp_path, {"kind": "extract", "dataset": "d", "columns": ["age"]}))
    stopper.join(10)
    assert log == [("single", 1), ("cancel", "ref-single-1"), ("shutdown", None)]


def test_stop_when_a_thread_stays_inside_ray_then_ray_is_left_to_its_exit(
    stoppable: tuple[RayRunner, list[tuple[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    runner, log = stoppable
    with runner._calling():  # a Ray call that does not return
        runner.stop(wait_s=0.05)
    assert ("shutdown", None) not in log
    assert "still inside Ray" in caplog.text


def test_execute_when_aggregate_without_partitions_then_internal_error(tmp_path: Path) -> None:
    task = _task(tmp_path, AGGREGATE, public_keys={"d": {}}, privacy_units={"d": None})
    with pytest.raises(InternalError, match="no stored partitions"):
        execute(task)
