"""The service's log lines: text for a terminal, JSON for a collector.

:func:`configure` sets up the root logger once per process (``sandbox serve``,
``sandbox worker``) from ``SANDBOX_LOG_FORMAT``. In JSON every record is one
object a line: ``time``, ``level``, ``logger``, ``message`` and the fields a caller
passed as ``extra`` (``event``, ``job_id``, ``kind``, ``state``, ``from``,
``duration_s``...). What goes into a record is the caller's choice and the rule is
the project's: no data value, no job error text, in any message or field.

The JSON formatter is a few lines of our own rather than python-json-logger: one
dependency less for one method, and the field names are ours.

uvicorn runs with ``log_config=None`` (it then leaves logging as configured here);
its access log goes through the same handler, less the polling noise
(:class:`QuietAccess`): probes, scrapes and a client's polls of a job's status.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from sandbox.settings import Settings

#: Attributes every :class:`logging.LogRecord` has; anything else came as ``extra``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI copy of message
)
#: Request paths whose access-log lines are noise: probes, scrapes.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: A client polling one job's status (``GET /v1/jobs/{id}``, with or without a query).
_JOB_POLL = re.compile(r"/v1/jobs/\d+(\?.*)?")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class QuietAccess(logging.Filter):
    """Drops uvicorn access lines of probes, scrapes and ``GET /v1/jobs/{id}`` polls."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records carry (client, method, path, http version, status)
        args = record.args
        if not isinstance(args, tuple) or len(args) < 3:
            return True
        method, path = str(args[1]), str(args[2])
        if path.split("?", 1)[0] in QUIET_PATHS:
            return False
        return not (method == "GET" and _JOB_POLL.fullmatch(path))


def formatter(settings: Settings) -> logging.Formatter:
    """The formatter ``settings.log_format`` names."""
    if settings.log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


#: The name of the handler :func:`configure` installs.
_HANDLER = "sandbox"


def configure(settings: Settings, level: int = logging.INFO) -> None:
    """Send every log record to stderr in ``settings.log_format``; quiet uvicorn's access log.

    Replaces the root logger's handlers (a second call does not double the lines).
    uvicorn's loggers propagate to the root (run uvicorn with ``log_config=None`` so
    that it keeps this set-up).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in list(root.handlers):
        # ours from an earlier call, and the default stderr handler of basicConfig; others
        # (a test's log capture, an embedding application's) are not ours to remove
        if old.get_name() == _HANDLER or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # a logging set-up before this one (uvicorn's dictConfig, alembic's fileConfig) may
        # have disabled them or raised their level
        logger.disabled = False
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietAccess) for f in access.filters):
        access.addFilter(QuietAccess())
