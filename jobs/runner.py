"""Run jobs on Ray, beside the data.

The service hands a :class:`Task` to :meth:`RayRunner.run`; a Ray task reads
the dataset's Parquet (the caller never does), evaluates the spec, writes
the result into the quarantine folder and returns only metadata. Ray is the
engine, never a door: a local Ray starts with its dashboard off and bound to
loopback, and nothing here exposes its job API.

The runner never asks which kind a job is: the job's kind
(:data:`jobs.kinds.KINDS`) says whether it runs partition by partition
(:attr:`~jobs.kinds.base.JobKind.partitioned`), what Ray must reserve for it
(:meth:`~jobs.kinds.base.JobKind.ray_options`) and how long it may take
(:meth:`~jobs.kinds.base.JobKind.timeout_s`). :class:`Task`, :class:`Outcome`
and :func:`execute` live in :mod:`jobs.task` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from jobs.errors import InternalError, JobFailed, RunnerStopped, redacted_traceback
from jobs.kinds import KINDS, parse_job_spec
from jobs.kinds.base import PartitionedKind
from jobs.task import Outcome, Task, evaluation_errors, sha256_file, staged, write_result

__all__ = [
    "Outcome",
    "RayRunner",
    "Task",
    "evaluation_errors",
    "execute",
    "sha256_file",
    "write_result",
]

log = logging.getLogger(__name__)

_STOPPING = "the service is stopping; the job goes back to the queue"


def execute(task: Task) -> Outcome:
    """Run a task in this process (tests, and the in-process runner): its kind runs it.

    A partitioned kind gives the same result before noise on Ray, partition
    by partition (:mod:`jobs.distributed`).

    Raises:
        JobFailed: With a message that carries no data value.
        InvalidJobSpec: The task's spec is not a spec of a registered kind.
        InternalError: The task lacks the catalog context its kind needs.
    """
    return staged(task, KINDS[parse_job_spec(task.spec).kind].run)


@contextlib.contextmanager
def _keeping_sigterm() -> Iterator[None]:
    """Keep this process's SIGTERM handler across ``ray.init``.

    Called from the main thread, ``ray.init`` replaces it with one that raises
    ``SystemExit`` wherever the main thread is (inside a request of the API's
    event loop: a 500, and the workers never drain). The service's own handler
    (uvicorn's, ``sandbox worker``'s) is put back, so SIGTERM drains.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler)


class RayRunner:
    """Submits tasks to Ray and waits for them.

    Args:
        address: ``None`` starts a local Ray (dashboard off, loopback only);
            otherwise the address of an existing cluster (``SANDBOX_RAY_ADDRESS``).
        num_cpus: CPUs a local Ray may use.
        timeout_s: Wall-clock limit of one task; it is cancelled after.
    """

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, timeout_s: float = 600.0
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.timeout_s = timeout_s
        self._partial: Any = None
        self._finish: Any = None
        self._single: Any = None
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        # stop() waits until no thread is inside a Ray call: Ray's own exit-time shutdown
        # under a thread still in ray.get ends the process with 1 (the core worker exits)
        self._calls = 0
        self._idle = threading.Condition(self._lock)
        self._waiting: dict[int, list[Any]] = {}  # a run's refs, the finishing one first
        self._stopped = False

    def start(self) -> None:
        """Connect to or start Ray once per process; later calls do nothing (thread-safe).

        Raises:
            RunnerStopped: The runner was stopped (the service is stopping).
        """
        with self._lock:
            if self._stopped:
                raise RunnerStopped(_STOPPING)
            self._start()

    @contextlib.contextmanager
    def _calling(self) -> Iterator[None]:
        """A span of Ray calls that :meth:`stop` waits for; refused once stopped."""
        with self._lock:
            if self._stopped:
                raise RunnerStopped(_STOPPING)
            self._calls += 1
        try:
            yield
        finally:
            with self._lock:
                self._calls -= 1
                self._idle.notify_all()

    def _wait_on(self, refs: list[Any]) -> int:
        """Let :meth:`stop` cancel ``refs`` (the one waited on first); a key for
        :meth:`_waited`. Cancelled here if the stop already began.

        Raises:
            RunnerStopped: The stop began.
        """
        with self._lock:
            stopped = self._stopped
            if not stopped:
                key = id(refs)
                self._waiting[key] = refs
        if stopped:
            _cancel(refs)
            raise RunnerStopped(_STOPPING)
        return key

    def _waited(self, key: int) -> None:
        with self._lock:
            self._waiting.pop(key, None)

    def _start(self) -> None:
        import ray

        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
                "namespace": "data-sandbox",
            }
            if self.address is not None:
                options["address"] = self.address
            else:
                options |= {"num_cpus": self.num_cpus, "_node_ip_address": "127.0.0.1"}
            with _keeping_sigterm():
                ray.init(**options)
        if self._partial is None:
            from jobs.distributed import finish, partial, single

            self._partial = ray.remote(max_retries=0)(partial)
            self._finish = ray.remote(max_retries=0)(finish)
            self._single = ray.remote(max_retries=0)(single)

    def run(self, task: Task) -> Outcome:
        """Run ``task`` on Ray and block until it finishes.

        Raises:
            JobFailed: The task failed or ran out of time; the message is safe to show.
            RunnerStopped: The runner was stopped before or while the task ran.
            InternalError: Ray is unavailable.
        """
        with self._calling():
            return self._run(task)

    def _run(self, task: Task) -> Outcome:
        import ray
        from ray.exceptions import RayError

        self.start()
        payload = asdict(task)
        kind = KINDS[parse_job_spec(task.spec).kind]
        options = kind.ray_options(task)

        def reserved(function: Any) -> Any:
            """``function`` with what Ray must reserve for this kind's tasks."""
            return function.options(**options) if options else function

        parts: list[Any] = []
        if kind.partitioned:
            if not isinstance(kind, PartitionedKind):
                raise InternalError("a partitioned job kind lacks its partial and finish steps")
            # One task per partition computes exact partials; one more adds noise once.
            parts = [reserved(self._partial).remote(payload, f) for f in kind.partitions(task)]
            if not parts:
                raise InternalError("the dataset has no stored partitions")
            ref = reserved(self._finish).remote(payload, *parts)
        else:
            # The kind reads its whole input in one task.
            ref = reserved(self._single).remote(payload)
        timeout = kind.timeout_s(task, self.timeout_s)
        key = self._wait_on([ref, *parts])
        try:
            return Outcome(**ray.get(ref, timeout=timeout))
        except RayError as err:
            raise self._failure(err, task, [ref, *parts], timeout) from None
        finally:
            self._waited(key)

    def _failure(self, err: Exception, task: Task, refs: list[Any], timeout: float) -> Exception:
        """What a run whose ``ray.get`` raised ``err`` raises (a message safe to show)."""
        from ray.exceptions import GetTimeoutError, RayTaskError

        if self._stopped:  # stop() cancelled it (a part's cancel may reach finish as its error)
            return RunnerStopped(_STOPPING)
        if isinstance(err, GetTimeoutError):
            _cancel(refs)
            return JobFailed(f"the job ran longer than {timeout:g} s and was stopped")
        if isinstance(err, RayTaskError):
            cause = err.cause
            if isinstance(cause, JobFailed):
                return JobFailed(str(cause))
            # The server log stays inside the boundary; the operator sees no detail.
            log.error("job %s failed in Ray\n%s", task.job_id, redacted_traceback(cause))
            return JobFailed(
                f"the job failed inside the sandbox ({type(cause).__name__}); "
                "the data bureau can see the server log"
            )
        log.error("job %s: Ray is unavailable (%s)", task.job_id, type(err).__name__)
        return InternalError("the compute engine is unavailable; try again later")

    def ready(self, timeout_s: float = 2.0) -> bool:
        """Whether Ray answers: connected in this process, and its cluster lists a live node
        within ``timeout_s`` (a readiness probe; it never starts Ray and never raises).

        The question runs in a thread of its own, one at a time: a cluster that stopped
        answering holds that thread, and probes meanwhile answer False at once.
        """
        import ray

        if not ray.is_initialized() or not self._probing.acquire(blocking=False):
            return False
        answered = threading.Event()
        alive: list[bool] = []

        def probe() -> None:
            try:
                with self._calling():
                    nodes = ray.nodes()  # type: ignore[no-untyped-call]
                alive.append(any(node.get("Alive") for node in nodes))
            except Exception:  # Ray's errors vary by version; any of them is "not ready"
                alive.append(False)
            finally:
                self._probing.release()
                answered.set()

        threading.Thread(target=probe, name="ray-ready", daemon=True).start()
        return answered.wait(timeout_s) and bool(alive) and alive[0]

    def stop(self, wait_s: float = 30.0) -> None:
        """Disconnect from Ray (a local Ray shuts down); later runs are refused.

        Tasks still running are cancelled (their jobs were handed back by the drain),
        and Ray shuts down once no thread is inside a Ray call, so none touches Ray
        after it (Ray's exit-time shutdown under a waiting thread ends the process
        with 1). A thread still inside one after ``wait_s`` leaves Ray to its exit.
        Never raises; a second call does nothing more.
        """
        with self._lock:
            self._stopped = True
            waiting = list(self._waiting.values())
        ray = sys.modules.get("ray")  # a process that never ran a job never imported it
        if ray is None:
            return
        for refs in waiting:
            _cancel(refs)
        with self._idle:
            idle = self._idle.wait_for(lambda: self._calls == 0, timeout=wait_s)
        if not idle:
            log.warning("a job thread is still inside Ray after %g s; Ray stops at exit", wait_s)
            return
        try:
            if ray.is_initialized():
                ray.shutdown()
        except Exception as err:  # the process is stopping: say so, and go on
            log.error("Ray did not shut down cleanly (%s)", type(err).__name__)
        self._partial = self._finish = self._single = None


def _cancel(refs: list[Any]) -> None:
    """Cancel a run's Ray tasks, the one waited on first (its inputs after it, so that
    it does not start on an input cancelled under it); ones already ended are skipped."""
    import ray

    for ref in refs:
        with contextlib.suppress(Exception):  # ended meanwhile, or Ray already gone
            ray.cancel(ref, force=True)
