"""Structured logs: one JSON object per line, for journald, logrotate and log shippers alike."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

# LogRecord attributes that are not extra fields a caller passed.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Send the daiban loggers to stderr as JSON lines ("json") or plain text; idempotent."""
    logger = logging.getLogger("daiban")
    logger.setLevel(level.upper())
    for handler in list(logger.handlers):
        if getattr(handler, "_daiban", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._daiban = True  # type: ignore[attr-defined]  # our mark, so configure() replaces only its own
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.propagate = False
