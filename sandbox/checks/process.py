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
"""

from __future__ import annotations

import json
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

__all__ = ["ChecksStopped", "Limits", "run_isolated"]

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
        wall_seconds: Time from start to answer; the parent kills it after.
        niceness: Added to the child's priority: the API answers first.
    """

    memory_bytes: int = 4 << 30
    cpu_seconds: int = 900
    wall_seconds: float = 1800.0
    niceness: int = 15


def run_isolated(output: Path, context: CheckContext, limits: Limits) -> list[Check]:
    """:func:`sandbox.checks.engine.run_checks` in a child process within ``limits``.

    Args:
        output: The quarantined output.
        context: The job's check context.
        limits: Memory, CPU and time of the child.

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
        return _run_child(output, context, limits, Path(folder))
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
    # The child imports this very code, wherever the parent found it.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env["POLARS_MAX_THREADS"] = str(THREADS)
    return env


def _run_child(output: Path, context: CheckContext, limits: Limits, folder: Path) -> list[Check]:
    request = pickle.dumps((str(output), context, str(folder)))
    with subprocess.Popen(  # noqa: S603 (our interpreter, our module, three integers)
        [
            sys.executable,
            "-m",
            "sandbox.checks.process",
            *(str(int(n)) for n in (limits.memory_bytes, limits.cpu_seconds, limits.niceness)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_child_env(remote=any(storage.is_remote(p) for p in context.inputs.values())),
        close_fds=True,
    ) as child:
        try:
            answer = _watch(child, request, limits)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    if child.returncode != 0:
        raise ChecksStopped(_death(child.returncode, limits))
    return _parse(answer)


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


def main() -> None:
    """The child: limit itself, read the request, check, answer on the original stdout."""
    memory_bytes, cpu_seconds, niceness = (int(a) for a in sys.argv[1:4])
    _limit_self(memory_bytes, cpu_seconds, niceness)
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a library prints goes where stderr goes (nowhere)
    from sandbox.checks.engine import run_checks

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
