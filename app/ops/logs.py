"""Logging: one JSON object per line (LOG_FORMAT=json, the default) or plain text.

Every line written while a request is handled carries its request id; fields passed with
`extra=` become keys of the line.
"""

import contextvars
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# The attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request id, then whatever came in through `extra=`."""
    fields: dict[str, Any] = {}
    rid = request_id.get()
    if rid is not None:
        fields["request_id"] = rid
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text + "".join(f" {k}={v}" for k, v in _fields(record).items())


def configure(level: str = "info", fmt: str = "json") -> dict[str, Any]:
    """Set up logging for the server (and uvicorn's loggers); returns the config, which is
    also uvicorn's `log_config`, so that worker processes log the same way."""
    formatter = "app.ops.logs.JsonFormatter" if fmt == "json" else "app.ops.logs.TextFormatter"
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Requests are logged by app.ops.observability, with their id and route.
            "uvicorn.access": {"handlers": [], "propagate": False},
            # A line per request sent (WebSub pings, Web Push) is noise; failures are ours.
            "httpx": {"level": "WARNING"},
        },
    }
    logging.config.dictConfig(config)
    return config
