"""structlog configuration: context variables (reqid, txnid, step) on every line.

Under systemd the lines go to journald with every structlog key as a journal
field of its own (``journalctl -u glusterd2 VOLUME=gv0 TXNID=...``); anywhere
else they go to stderr as console text, JSON or logfmt.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
LOG_TARGETS = ("auto", "journal", "stderr")

# syslog(3) priorities, which journald keeps in PRIORITY.
_PRIORITIES = {"debug": 7, "info": 6, "notice": 5, "warning": 4, "warn": 4, "error": 3, "exception": 3,
               "critical": 2, "fatal": 2}
IDENTIFIER = "glusterd2"
# Fields journald or we set ourselves: a structlog key of the same name is kept under a GD2_ prefix.
_RESERVED = frozenset({"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
                       "CODE_FILE", "CODE_LINE", "CODE_FUNC", "MESSAGE_ID", "ERRNO", "LOGGER"})
_BAD_FIELD_CHARS = re.compile(r"[^A-Z0-9_]")


def journal_field_name(key: str) -> str:
    """A structlog key as a journal field name: upper case, [A-Z0-9_], not leading '_' or a digit."""
    name = _BAD_FIELD_CHARS.sub("_", key.upper()).lstrip("_")
    if not name or name[0].isdigit() or name in _RESERVED:
        name = "GD2_" + name
    return name[:64]


def journal_fields(event_dict: Mapping[str, Any], logger_name: str | None = None) -> dict[str, str]:
    """Map one structlog event to journal fields: the event as MESSAGE, the level as PRIORITY,
    every other key upper-cased (``volume`` → ``VOLUME``), values as text."""
    fields: dict[str, str] = {}
    for key, value in event_dict.items():
        if key in ("event", "level", "timestamp") or value is None:
            continue  # journald stamps its own time, with more precision
        fields[journal_field_name(key)] = value if isinstance(value, str) else str(value)
    level = str(event_dict.get("level", "info")).lower()
    fields["MESSAGE"] = str(event_dict.get("event", ""))
    fields["PRIORITY"] = str(_PRIORITIES.get(level, 6))
    fields["SYSLOG_IDENTIFIER"] = IDENTIFIER
    if logger_name:
        fields["LOGGER"] = logger_name
    return fields


def stderr_is_journal(environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> bool:
    """True when stderr is the journal stream systemd connected us to (``JOURNAL_STREAM=dev:inode``).

    Comparing dev:inode rather than trusting the variable alone matters: a brick or a
    shell started from the unit inherits JOURNAL_STREAM with a different stderr.
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev, _, inode = value.partition(":")
    if not (dev.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat((sys.stderr if stream is None else stream).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(inode))


class JournalLogger:
    """structlog's final logger for journald: receives the fields :func:`journal_fields` made."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def msg(self, **fields: str) -> None:
        from cysystemd.journal import send

        send(**fields)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class JournalLoggerFactory:
    def __call__(self, *args: Any) -> JournalLogger:
        return JournalLogger(str(args[0]) if args else None)


def _to_journal(logger: Any, method_name: str, event_dict: structlog.typing.EventDict) -> dict[str, str]:
    name = logger.name if isinstance(logger, JournalLogger) else None
    return journal_fields(event_dict, name)


def _use_journal(target: str) -> bool:
    if target not in LOG_TARGETS:
        raise ValueError(f"log target must be one of {', '.join(LOG_TARGETS)}, got {target!r}")
    return target == "journal" or (target == "auto" and stderr_is_journal())


def configure_logging(level: str, fmt: str, target: str = "auto") -> None:
    """Log to journald (``target="journal"``, or ``"auto"`` under systemd) or to stderr as console
    text, JSON or logfmt; stdlib loggers go the same way."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    root = logging.getLogger()
    root.setLevel(max(_LEVELS[level], logging.WARNING))
    if _use_journal(target):
        from cysystemd.journal import JournaldLogHandler

        structlog.configure(
            processors=[*shared, structlog.processors.format_exc_info, _to_journal],
            wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
            logger_factory=JournalLoggerFactory(),
            cache_logger_on_first_use=True,
        )
        root.handlers[:] = [JournaldLogHandler(identifier=IDENTIFIER)]  # type: ignore[no-untyped-call]
        return
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    elif fmt == "logfmt":
        renderer = structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"])
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                                              renderer]))
    root.handlers[:] = [handler]
