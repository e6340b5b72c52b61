"""A submitted job: wait for it (with a progress bar), then read or save its released output."""

from __future__ import annotations

import datetime as dt
import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from jobs.kinds import OutputShape
from policies import errors as E
from policies.catalog import Product
from sandbox.client import html as H
from sandbox.client import output as O
from sandbox.client.models import Model


class Transport(Protocol):
    """What a job uses of the client it came from (a :class:`sandbox.client.Client`)."""

    def _call(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def _download(self, job_id: int, kind: str = "") -> O.Output: ...

    def _export(self, job_id: int) -> tuple[bytes, str]: ...


_FINAL = frozenset({"awaiting_review", "released", "rejected", "returned", "failed"})
#: Progress-bar steps of a job's life up to the data bureau's decision.
_STEPS = {
    "queued": 1,
    "running": 2,
    "awaiting_review": 3,
    "released": 4,
    "rejected": 4,
    "returned": 4,
}
#: Decided without release: the output never leaves.
_CLOSED = frozenset({"rejected", "returned"})


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    """The data bureau's decision on a job's output (:attr:`Job.decision`).

    Attributes:
        state: ``approve`` (released), ``reject``, or ``return`` (returned for changes:
            change the job as the reason says and submit it again).
        reason: The steward's own words.
        organisation: The deciding data bureau.
        decided_at: When (UTC).
    """

    state: str
    reason: str
    organisation: str
    decided_at: dt.datetime

    @classmethod
    def of(cls, data: dict[str, Any]) -> ReviewDecision:
        """From the service's ``decision`` object."""
        return cls(
            state=str(data["state"]),
            reason=str(data["reason"]),
            organisation=str(data["organisation"]),
            decided_at=dt.datetime.fromisoformat(str(data["decided_at"])),
        )

    def __str__(self) -> str:
        return f"{_VERB.get(self.state, self.state)} by {self.organisation}: {self.reason}"


#: How a decision reads in a sentence.
_VERB = {"approve": "approved", "reject": "rejected", "return": "returned for changes"}


@dataclass
class Job:
    """A submitted job: :meth:`wait`, then read its released output by kind.

    :meth:`result` (a kind whose output is a table: a polars table), :meth:`model`
    (a model), :meth:`files` (a zip of files) or :meth:`download` (any kind, to a file).
    """

    client: Transport
    data: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    @property
    def decision(self) -> ReviewDecision | None:
        """The data bureau's decision, once it closed the job (released, rejected or
        returned for changes); ``None`` before (and for a failed job).

        >>> job.decision.reason  # doctest: +SKIP
        '请按区县汇总后重新提交'
        """
        data = self.data.get("decision")
        return ReviewDecision.of(data) if isinstance(data, dict) else None

    def refresh(self) -> Job:
        """Fetch the current state."""
        self.data = self.client._call("GET", f"/jobs/{self.id}")
        return self

    def wait(self, timeout: float = 600.0, poll: float = 0.5, progress: bool = True) -> Job:
        """Block until the job is out of the queue and Ray (awaiting review or later).

        An operator sees a ``custom`` job as awaiting review from submission
        on (its run time could carry data); :meth:`wait_released` waits for
        the decision.

        Args:
            timeout: Seconds to wait at most.
            poll: Seconds between status checks.
            progress: Show a progress bar over queued → running → awaiting review
                (a widget in Jupyter when ipywidgets is installed, text otherwise).

        Raises:
            JobFailed: The job failed; the message says why without data values.
            TimeoutError: Still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        bar = _progress(self.id) if progress else None
        try:
            while self.refresh().status not in _FINAL:
                _advance(bar, self.status)
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"job {self.id} is still {self.status} after {timeout:g} s; "
                        "call job.wait() again or see client.jobs()"
                    )
                time.sleep(poll)
            _advance(bar, self.status)
        finally:
            if bar is not None:
                bar.close()
        if self.status == "failed":
            raise E.JobFailed(f"job {self.id} failed: {self.data.get('error', '')}")
        return self

    def wait_released(self, timeout: float = 3600.0, poll: float = 2.0) -> Job:
        """Block until the data bureau has decided.

        Raises:
            PolicyViolation: The output was rejected or returned for changes; the
                message holds the steward's reason (also in :attr:`decision`).
        """
        deadline = time.monotonic() + timeout
        while self.wait(timeout, poll, progress=False).status == "awaiting_review":
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} is still awaiting review")
            time.sleep(poll)
        if self.status in _CLOSED:
            decision = self.decision
            why = f": {decision}" if decision is not None else ""
            raise E.PolicyViolation(f"job {self.id} was {self.status} by the data bureau{why}")
        return self

    @property
    def kind(self) -> str:
        """The job kind's name (:data:`jobs.kinds.KINDS` lists them)."""
        return str(self.data.get("kind", ""))

    def result(self) -> O.Table:
        """The released table, as polars (``.to_pandas()`` with the ``pandas`` extra).

        An ``aggregate`` gives group keys, then per aggregate its value and
        95 % interval (``name``, ``name_ci_low``, ``name_ci_high``); an
        ``extract`` gives its anonymised rows.

        Raises:
            PolicyViolation: Not released yet (only released products leave).
            InvalidRequest: The output is not a table (a model or a zip of
                files); the message names the method that reads it.
        """
        self._check_shape(OutputShape.TABLE)
        output = self._output()
        if output.suffix != ".parquet":
            raise E.InvalidRequest(
                f"job {self.id}'s output is a {output.suffix} file, not a table; use job.download()"
            )
        return O.Table.of(pl.read_parquet(io.BytesIO(output.content)))

    def model(self) -> dict[str, Any]:
        """A ``train`` job's released model.

        Returns:
            The model's JSON (format, features, parameters, metrics, privacy);
            for an MLP (``.safetensors``) its metadata and ``"tensors"``
            (name → dtype and shape); the weights stay in the file, which
            :meth:`download` writes.

        Raises:
            PolicyViolation: Not released yet.
            InvalidRequest: Not a train job, or a ``.safetensors`` model and
                the ``safetensors`` package is missing (``pip install safetensors``).
        """
        self._check_shape(OutputShape.MODEL)
        return O.read_model(self._output())

    def predictor(self) -> Model:
        """A ``train`` job's released model, ready to ``predict`` on a polars frame.

        >>> job.predictor().predict(ds.dummy(5))  # doctest: +SKIP

        Raises:
            PolicyViolation: Not released yet.
            InvalidRequest: Not a train job.
            ImportError: An MLP without the ``models`` extra (numpy and safetensors).
        """
        self._check_shape(OutputShape.MODEL)
        output = self._output()
        if output.suffix == ".safetensors":
            return Model.from_safetensors(output.content)
        return Model.from_json(O.read_model(output))

    def files(self) -> dict[str, bytes]:
        """A ``custom`` job's released files, name to bytes; nothing is written to disk.

        The sandbox names them ``file-1.csv``, ``file-2.png``, ... (numbered by
        content): names the code chose could carry data, so they stay inside.

        >>> table = pl.read_csv(job.files()["file-1.csv"])  # doctest: +SKIP

        Raises:
            PolicyViolation: Not released yet.
            InvalidRequest: Not a custom job.
            InternalError: The archive holds a name with a path or ``..`` (refused).
        """
        self._check_shape(OutputShape.FILES)
        return O.read_files(self._output().content)

    def download(self, path: str | Path | None = None) -> Path:
        """Write the released file (``job-<id>.parquet`` / ``.json`` / ``.safetensors`` / ``.zip``).

        The bytes are checked against the SHA-256 the service recorded before
        anything is written, and written through a temporary file.

        Args:
            path: A folder (the file is ``job-<id><suffix>`` in it), a file
                path (a missing suffix is added), or ``None`` for the current folder.

        Returns:
            The path written.

        Raises:
            PolicyViolation: Not released yet.
            InvalidRequest: ``path`` has another suffix than the output's.
        """
        output = self._output()
        return O.write(output, O.target(output, path))

    def _check_shape(self, shape: OutputShape) -> None:
        """Refuse, naming the right reader, unless this job's kind releases a ``shape`` output."""
        kind = O.kind_named(self.kind)
        if kind is not None and kind.shape is not shape:
            what = _WHAT[kind.shape]
            if kind.shape is OutputShape.TABLE and kind.product is Product.RECORDS:
                what += " of rows"
            raise E.InvalidRequest(
                f"job {self.id} is {self.kind!r}: its output is {what}; {_READ_WITH[kind.shape]}"
            )

    def _output(self) -> O.Output:
        """The released output; refuses early, with what to do, when there is none."""
        if self.refresh().status in ("queued", "running", "awaiting_review"):
            raise E.PolicyViolation(
                f"job {self.id} is {self.status}: only released products leave; "
                "call job.wait_released() and then job.result()"
            )
        if self.status in (*_CLOSED, "failed"):
            raise E.PolicyViolation(
                f"job {self.id} was {self.status} and has no result; see job.data['error'] "
                "or the reviewer's reason (job.decision), change the job and submit again"
            )
        return self.client._download(self.id, self.kind)

    def manifest(self) -> dict[str, Any]:
        """The signed release manifest."""
        return dict(self.client._call("GET", f"/jobs/{self.id}/manifest"))

    def export(self, path: str | Path | None = None) -> Path:
        """Write the package of this released product for a data trading venue (art. 40).

        The zip holds the product, its signed manifest, the public key with its
        fingerprint and a README (Chinese, English) on checking it offline
        (``sandbox-client verify FILE``); the service audits the export.

        Args:
            path: A folder (the file is ``job-<id>-venue.zip`` in it), a file path,
                or ``None`` for the current folder.

        Returns:
            The path written.

        Raises:
            PolicyViolation: Not released, or you may not download it.
        """
        content, sha256 = self.client._export(self.id)
        name = f"job-{self.id}-venue.zip"
        target = Path.cwd() / name if path is None else Path(path).expanduser()
        if target.is_dir():
            target = target / name
        return O.write(O.Output(self.id, ".zip", content, sha256), target)

    def __repr__(self) -> str:
        return f"Job(id={self.id}, status={self.status!r})"

    def _repr_html_(self) -> str:
        d = self.data
        items = {
            "status": self.status,
            "kind": d.get("kind"),
            "grant": d.get("grant_id"),
            "ε": d.get("epsilon"),
            "δ": d.get("delta"),
            "purpose": d.get("purpose"),
            "created": d.get("created_at"),
            "error": d.get("error") or None,
        }
        decision = self.decision
        if decision is not None:
            items |= {
                "decision": _VERB.get(decision.state, decision.state),
                "reason": decision.reason,
                "decided by": decision.organisation,
                "decided at": decision.decided_at.isoformat(timespec="seconds"),
            }
        return H.fields(f"job {self.id}", items, _NEXT.get(self.status, ""))


#: What an output of each shape is, and how it is read.
_WHAT = {
    OutputShape.TABLE: "a table",
    OutputShape.MODEL: "a model",
    OutputShape.FILES: "a zip of files",
}
_READ_WITH = {
    OutputShape.TABLE: "use job.result() / job.download()",
    OutputShape.MODEL: "use job.model(), job.predictor() / job.download()",
    OutputShape.FILES: "use job.files() / job.download()",
}
_NEXT = {
    "queued": "waiting for a worker: job.wait()",
    "running": "running beside the data: job.wait()",
    "awaiting_review": "the data bureau reviews it next: job.wait_released()",
    "released": "released: job.result(), .model() or .files() reads it; job.download() saves it",
    "rejected": "rejected by the data bureau; change the job and submit again",
    "returned": "returned for changes by the data bureau: change the job as the reason says "
    "and submit it again",
    "failed": "failed; see the error, change the job and submit again",
}


def _progress(job_id: int) -> Any:
    """A tqdm bar over the job's steps, a widget in Jupyter.

    tqdm.auto warns when Jupyter lacks ipywidgets and falls back to text;
    the fallback is fine here, so that warning is silenced. Imported late:
    scripts that never wait never load it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    return tqdm(total=_STEPS["awaiting_review"], desc=f"job {job_id}", unit="step", leave=True)


def _advance(bar: Any, status: str) -> None:
    if bar is None:
        return
    if bar.postfix == status:
        return  # redraw on change only: each redraw is an output line in a notebook
    step = min(_STEPS.get(status, bar.n), bar.total)
    if step > bar.n:
        bar.update(step - bar.n)
    bar.set_postfix_str(status, refresh=True)
