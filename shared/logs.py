"""Structured logs: one JSON object per line from every process, carrying the trace id.

A trace id names one piece of work across processes: the request that accepted a booking
binds it (``ticketing/tracing.py``), the outbox row and the Celery message carry it, and the
worker, the payment worker and the notifier bind it again while they handle that booking. So
``grep <trace id>`` over every process's log follows one booking from the request to its email.

Django's ``LOGGING`` (built by ``logging_config``) sends every stdlib record through structlog's
``ProcessorFormatter``: the many ``logging.getLogger(__name__)`` calls and structlog loggers
come out alike, with whatever is bound in the context (``trace_id``) merged in.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

TRACE_ID = "trace_id"  # the key in log lines, Celery message headers and outbox rows
# What we accept from a client's X-Request-ID: long enough to be unique, short and plain
# enough to go into every log line and header as it is.
_SANE_TRACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
TRACE_ID_MAX_LENGTH = 64


def new_trace_id() -> str:
    return uuid.uuid4().hex


def clean_trace_id(value: str | None) -> str | None:
    """``value`` if it is a sane trace id (8 to 64 letters, digits, ``.``, ``_``, ``:``, ``-``)."""
    if value and _SANE_TRACE_ID.fullmatch(value):
        return value
    return None


def current_trace_id() -> str:
    """The trace id bound in this context ("" outside a traced request or task)."""
    return structlog.contextvars.get_contextvars().get(TRACE_ID, "")


@contextmanager
def traced(trace_id: str | None) -> Iterator[None]:
    """Bind ``trace_id`` to every log line (and task published) in the block; restores the
    previous one after it. An empty id binds nothing."""
    if not trace_id:
        yield
        return
    # Tokens rather than bound_contextvars: it copies the whole context, on every request.
    tokens = structlog.contextvars.bind_contextvars(**{TRACE_ID: trace_id})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def bind_trace_id(trace_id: str | None) -> None:
    """Bind ``trace_id`` until ``unbind_trace_id``: for hooks that cannot wrap a block
    (Celery's task_prerun and task_postrun signals)."""
    if trace_id:
        structlog.contextvars.bind_contextvars(**{TRACE_ID: trace_id})


def unbind_trace_id() -> None:
    structlog.contextvars.unbind_contextvars(TRACE_ID)


# Run on every record, stdlib or structlog, before it is rendered.
_SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _leading_keys(_logger, _method, event_dict: dict) -> dict:
    """When, how bad, where, what and which trace first: JSON lines read better that way."""
    head = {k: event_dict.pop(k) for k in _LEADING if k in event_dict}
    return {**head, **event_dict}


_LEADING = ("timestamp", "level", "logger", "event", TRACE_ID)


def _renderers(fmt: str) -> list:
    if fmt == "console":
        # For a person at a terminal; ConsoleRenderer prints tracebacks itself.
        return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    if fmt == "json":
        return [
            structlog.processors.format_exc_info,
            _leading_keys,
            structlog.processors.JSONRenderer(),
        ]
    raise ValueError(f"LOG_FORMAT must be json or console, not {fmt!r}")


def logging_config(*, level: str, fmt: str, levels: dict[str, str]) -> dict:
    """Django's ``LOGGING``: every record to stderr, rendered as ``fmt`` (json or console);
    ``levels`` sets the level of chatty loggers."""
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _SHARED_PROCESSORS,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderers(fmt),
        ],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # Django's default handlers would print its records a second time, unformatted.
            "django": {"handlers": [], "level": level, "propagate": True},
            **{name: {"level": value} for name, value in levels.items()},
        },
    }


def configure_structlog() -> None:
    """structlog loggers hand their events to the stdlib handlers of ``logging_config``."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
