"""Run the automatic checks in a child process with memory, CPU and time limits.

The checks (:mod:`sandbox.checks.engine`) parse files that operator code
wrote. Run inside the API process they competed with every request for the
interpreter and the memory: a custom job that finished with a large output
slowed ``GET /v1/me`` while it was checked, and an operator timing its own
requests read from the spikes what the hidden run (and its data) did; a file
that slipped past a reader's cap took the whole service's memory.

So :func:`run_isolated` starts ``python -m sandbox.checks.process`` for each
output: a fresh interpreter (no fork of a threaded server) at low priority,
two polars threads, a resident-memory cap and a wall-clock deadline the
parent enforces, a CPU-time cap (``RLIMIT_CPU``), a wide address-space cap
(``RLIMIT_AS``) as a backstop, and death with its parent. It gets paths,
locale and its thread count as its environment (none of the service's
settings or secrets), and extracts into a private folder the parent makes
and removes (a killed child cleans up nothing). The parent reads its answer
to the end, keeping 16 MiB: a longer one is a failing verdict at once, not a
child blocked on a full pipe until its wall limit. The
request goes down stdin (pickled by the parent: trusted); the verdicts come
back on stdout as JSON and are validated, so nothing the child was made to
do reaches the service as an object. A child that dies, runs out of memory
or time, or answers nonsense raises :class:`ChecksStopped`; one that reports an
unreadable stored dataset raises :class:`InternalError` with the parent's message,
never the child's text. :class:`ChecksStopped` the job
service turns into one failing ``checks`` verdict for the steward. Its
stderr is dropped: a traceback may quote a value of the output.

The job service keeps one such child started ahead (:class:`Spare`): it has
limited itself and imported the checks before its output exists, and checks
that one output only, so a small job's review waits for no interpreter.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from jobs import storage
from policies.errors import InternalError

if TYPE_CHECKING:  # the child sets its limits before it imports polars
    from sandbox.checks.base import Check, CheckContext

__all__ = ["ChecksStopped", "Limits", "Spare", "run_isolated"]

log = logging.getLogger(__name__)

_VERDICTS = frozenset({"pass", "warn", "fail"})
#: Largest answer read from the child (reasons name files and columns, not values).
_MAX_ANSWER = 16 << 20
#: Threads polars may use in the child (the checks are background work).
THREADS = 2
#: Address space beyond the memory cap: what polars and its threads reserve unused.
_RESERVED = 4 << 30
_POLL = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: The only variables of the service's environment the child gets (no secret, no setting).
_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")
#: What the parent says when the child reports an unreadable stored dataset (never its text).
_INTERNAL = "a stored dataset could not be read for the output checks"


class ChecksStopped(Exception):
    """The checks' process did not answer; the message says why (no value of the output)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What the checks' process may use.

    Attributes:
        memory_bytes: Resident memory; the interpreter with polars loaded takes
            about 150 MiB of it before reading anything.
        cpu_seconds: CPU time (``RLIMIT_CPU``), all threads together.
        wall_seconds: Time from the request to the answer; the parent kills it after.
        niceness: Added to the child's priority: the API answers first.
    """

    memory_bytes: int = 4 << 30
    cpu_seconds: int = 900
    wall_seconds: float = 1800.0
    niceness: int = 15


def run_isolated(
    output: Path, context: CheckContext, limits: Limits, spare: Spare | None = None
) -> list[Check]:
    """:func:`sandbox.checks.engine.run_checks` in a child process within ``limits``.

    Args:
        output: The quarantined output.
        context: The job's check context.
        limits: Memory, CPU and time of the child.
        spare: Where a child started ahead waits (:class:`Spare`); None: one starts now.

    Returns:
        The checks, as :func:`~sandbox.checks.engine.run_checks` returns them.

    Raises:
        InternalError: A stored input dataset cannot be read (as in process).
        ChecksStopped: The child broke, was killed by a limit or answered nonsense.
    """
    # The parent makes (0700) and removes the folder for extracted members: a child killed
    # by a limit cleans up nothing.
    folder = tempfile.mkdtemp(prefix="sandbox-checks-")
    try:
        return _run_child(output, context, limits, Path(folder), spare)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _child_env(remote: bool = False) -> dict[str, str]:
    """The child's environment: locale, paths and threads; none of the service's secrets.

    With datasets in object storage (``remote``) the child also gets the storage's
    ``AWS_*`` variables: it reads the inputs' parts there, as it reads a local data
    folder otherwise. Give the service a key limited to its bucket prefix.
    """
    env = {name: os.environ[name] for name in _ENV_KEPT if name in os.environ}
    if remote:
        env |= storage.environment()
    # The child imports this very code, wherever the parent found it: the folder that
    # holds the packages (not sandbox/, whose jobs/ would hide the top-level jobs).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env["POLARS_MAX_THREADS"] = str(THREADS)
    return env


def _spawn(limits: Limits, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a checks' child: it limits itself, imports the checks and waits for its request."""
    return subprocess.Popen(  # noqa: S603 (our interpreter, our module, three integers)
        [
            sys.executable,
            "-m",
            "sandbox.checks.process",
            *(str(int(n)) for n in (limits.memory_bytes, limits.cpu_seconds, limits.niceness)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
    )


def _discard(child: subprocess.Popen[bytes]) -> None:
    """Kill a child that will check nothing and reap it (its pipes closed)."""
    with child:
        child.kill()


def _run_child(
    output: Path, context: CheckContext, limits: Limits, folder: Path, spare: Spare | None
) -> list[Check]:
    request = pickle.dumps((str(output), context, str(folder)))
    # inputs in object storage: the child needs the storage's credentials, which the
    # spare (started before anyone knew the inputs) was not given
    remote = any(storage.is_remote(p) for p in context.inputs.values())
    ahead = spare.take(limits) if spare is not None and not remote else None
    with ahead or _spawn(limits, _child_env(remote=remote)) as child:
        try:
            answer = _watch(child, request, limits)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    if child.returncode != 0:
        raise ChecksStopped(_death(child.returncode, limits))
    return _parse(answer)


class Spare:
    """One checks' child started ahead of need, so that a job's checks wait for no interpreter.

    Starting ``python -m sandbox.checks.process`` and importing polars and the
    checks takes about half a second of CPU, and seconds of wall time on a busy
    host at the child's low priority: most of the time from a small job's end
    to its review (issue 18). A spare is the same child (same command, limits and
    environment, limited before it imports anything), started before the output
    exists and blocked reading its request; :meth:`take` hands it to one output
    and starts the next. Every output still gets a fresh process that has seen
    no other output, and its wall-clock limit counts from its request (the
    time it waited idle is not the output's). A spare whose environment or
    limits no longer match, or that died, is discarded for a fresh start.

    The spares are started by one long-lived thread of their own: the child asks
    to die with its parent (``PR_SET_PDEATHSIG``), which on Linux means the
    thread that started it, so a spare started by a short-lived thread would die
    with that thread before its output came.

    Args:
        limits: The limits the spares are started with (those the executor uses).
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._held: tuple[subprocess.Popen[bytes], dict[str, str]] | None = None
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the first spare (in the background; nothing after :meth:`close`)."""
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="checks-spare", daemon=True)
                self._thread.start()
            self._wanted.set()

    def take(self, limits: Limits) -> subprocess.Popen[bytes] | None:
        """The child started ahead, alive and started as one for ``limits`` would be now; or
        None (the caller starts one). Either way the next spare is started."""
        with self._lock:
            held, self._held = self._held, None
        self.start()
        if held is None:
            return None
        child, env = held
        if child.poll() is None and limits == self.limits and env == _child_env():
            return child
        _discard(child)
        return None

    def close(self) -> None:
        """Kill the waiting spare and start no more."""
        with self._lock:
            self._closed = True
            held, self._held = self._held, None
        self._wanted.set()
        if held is not None:
            _discard(held[0])

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            with self._lock:
                if self._closed:
                    return
                if self._held is not None:
                    continue
            env = _child_env()
            try:
                child = _spawn(self.limits, env)
            except OSError as err:  # no process now: outputs start their own
                log.error("no spare checks' process could be started (%s)", type(err).__name__)
                continue
            with self._lock:
                if self._closed or self._held is not None:
                    stale: subprocess.Popen[bytes] | None = child
                else:
                    self._held, stale = (child, env), None
            if stale is not None:
                _discard(stale)


def _watch(child: subprocess.Popen[bytes], request: bytes, limits: Limits) -> bytes:
    """Send the request, then read the answer while watching the child's time and memory.

    Resident memory is read from ``/proc`` every :data:`_POLL` seconds: the
    address space of polars alone is some gigabytes reserved and never used,
    so ``RLIMIT_AS`` (set wide, in the child) is only the backstop.
    """
    assert child.stdin is not None and child.stdout is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(child.stdout, chunks), daemon=True)
    reader.start()
    try:
        child.stdin.write(request)
        child.stdin.close()
    except BrokenPipeError:
        pass  # it died at once: its exit status says why
    deadline = time.monotonic() + limits.wall_seconds
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            raise ChecksStopped(
                f"the automatic checks took longer than {limits.wall_seconds:g} s and were stopped"
            )
        if _resident(child.pid) > limits.memory_bytes:
            child.kill()
            raise ChecksStopped(
                f"the automatic checks needed more than {limits.memory_bytes >> 20} MiB of "
                "memory and were stopped"
            )
        try:
            child.wait(_POLL)
        except subprocess.TimeoutExpired:
            pass
    reader.join()
    answer = b"".join(chunks)
    if len(answer) > _MAX_ANSWER:
        raise ChecksStopped(
            f"the automatic checks answered more than {_MAX_ANSWER >> 20} MiB (answer too large)"
        )
    return answer


def _drain(stream: IO[bytes], chunks: list[bytes]) -> None:
    """Read ``stream`` to its end, keeping the first :data:`_MAX_ANSWER` bytes and one more.

    Reading on past the cap (and dropping it) lets a child with a long answer
    finish and exit, instead of blocking on a full pipe until its wall limit.
    """
    kept = 0
    while block := stream.read(1 << 16):
        if kept <= _MAX_ANSWER:
            chunks.append(block[: _MAX_ANSWER + 1 - kept])
            kept += len(chunks[-1])


def _resident(pid: int) -> int:
    """Resident bytes of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _death(code: int, limits: Limits) -> str:
    if code == -signal.SIGXCPU or code == -signal.SIGKILL:
        return (
            f"the automatic checks used more than their {limits.cpu_seconds} s of CPU time "
            "(or were killed) and were stopped"
        )
    if code == -signal.SIGABRT or code == -signal.SIGSEGV:
        return (
            f"the automatic checks crashed, most likely out of memory "
            f"({limits.memory_bytes >> 20} MiB)"
        )
    return f"the automatic checks stopped without an answer (exit status {code})"


def _parse(answer: bytes) -> list[Check]:
    """The child's verdicts, or the error it reported; anything else is nonsense."""
    from sandbox.checks.base import MAX_REASON, Check

    try:
        data = json.loads(answer) if len(answer) <= _MAX_ANSWER else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and "internal" in data:
        raise InternalError(_INTERNAL)  # the child's text never reaches the operator
    if isinstance(data, dict) and isinstance(data.get("broke"), str):
        name = data["broke"] if data["broke"].isidentifier() else "an error"
        raise ChecksStopped(f"the automatic checks could not read this output ({name})")
    checks = data.get("checks") if isinstance(data, dict) else None
    if not isinstance(checks, list) or not checks or not all(_is_check(c) for c in checks):
        raise ChecksStopped("the automatic checks answered nothing readable")
    return [Check(c["name"], c["verdict"], c["reason"][:MAX_REASON]) for c in checks]


def _is_check(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"name", "verdict", "reason"}
        and isinstance(value["name"], str)
        and len(value["name"]) <= 64
        and value["verdict"] in _VERDICTS
        and isinstance(value["reason"], str)
    )


def _limit_self(memory_bytes: int, cpu_seconds: int, niceness: int) -> None:
    """Limit this (the child) process, before it imports polars or reads anything."""
    import resource

    try:  # die with the parent: an orphan would keep checking for nobody
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.nice(niceness)
    space = memory_bytes + _RESERVED
    resource.setrlimit(resource.RLIMIT_AS, (space, space))
    cpu = max(cpu_seconds, 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _prime() -> None:
    """Run the checks' steps once on a made-up table of two rows (no data), before the
    request comes.

    A fresh interpreter's first checks cost three times its later ones (imports on
    first use, the identifier rules' regular expressions, polars' engines): 0.6 s
    against 0.2 s for a small aggregate at a load of 13. A :class:`Spare` pays that
    while it waits, not after its output came (issue 18).
    """
    import io

    import polars as pl
    import pyarrow.parquet as pq

    from anonymize.detect.vector import scan_table
    from sandbox.checks.support import rows

    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "n": [1, 2], "x": [0.5, 1.0]})
    scan_table(frame.select(pl.col("city").alias("name")))
    matching = rows.match_columns(frame, ["city", "n"], "made-up", frame.lazy())
    rows.singled_out(frame, matching.pairs, frame.lazy(), 10)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    pq.read_metadata(io.BytesIO(buffer.getvalue()))


def main() -> None:
    """The child: limit itself, read the request, check, answer on the original stdout."""
    memory_bytes, cpu_seconds, niceness = (int(a) for a in sys.argv[1:4])
    _limit_self(memory_bytes, cpu_seconds, niceness)
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a library prints goes where stderr goes (nowhere)
    from sandbox.checks.engine import run_checks

    _prime()
    # the request comes from the parent (the service), never from the output
    output, context, folder = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    reply: dict[str, Any]
    try:
        checks = run_checks(Path(output), context, workdir=Path(folder))
        reply = {"checks": [c.as_dict() for c in checks]}
    except InternalError as err:
        reply = {"internal": str(err)}
    except BaseException as err:  # polars' PanicException is no Exception; MemoryError too
        reply = {"broke": type(err).__name__}
    json.dump(reply, answer, ensure_ascii=False)
    answer.close()


if __name__ == "__main__":
    main()
