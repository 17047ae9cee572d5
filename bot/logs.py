"""Logging set-up, done by the `oncelink` command and never at import time.

Slack payloads carry secrets, and slack_bolt / slack_sdk print whole request bodies and
API arguments at DEBUG. Their loggers are held at INFO whatever LOG_LEVEL says, so turning
on DEBUG to chase a bug never writes a secret or a link to the log.
"""

from __future__ import annotations

import json
import logging
import sys

CHATTY_LIBRARIES = ("slack_bolt", "slack_sdk")
# The loggers the app hands to slack_bolt and slack_sdk. Those libraries test a logger's own
# level (`logger.level <= DEBUG`), not its effective one, before formatting debug lines that
# hold whole bodies. At NOTSET (0) the test passes, so every Slack request and response_url
# post paid for formatting lines that were then dropped (bench/). They get a level of their
# own.
BOLT_LOGGER_NAME = "slack_bolt.oncelink"
SDK_LOGGER_NAME = "slack_sdk.oncelink"
LIBRARY_LOGGERS = (BOLT_LOGGER_NAME, SDK_LOGGER_NAME)


class _DropClientTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that our
    explicitly built client (with its base URL and retry handlers) wins. That is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in str(record.msg)


# One object, so adding it to the bolt logger again for every app built is a no-op.
TOKEN_WARNING_FILTER = _DropClientTokenWarning()


class _MalformedRequestLine(logging.Filter):
    """aiohttp logs a request it cannot parse with a traceback that quotes the offending
    header line, bytes and all: a token followed by a stray CR (a token file saved with
    Windows line ends) or a control byte would be written to the log in full. Such a
    record keeps its level but becomes one fixed line, without the exception or any byte
    of the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "refused a malformed HTTP request (%s)"
            record.args = (type(error).__name__,)
            record.exc_info = None
            record.exc_text = None
        return True


# One object, so adding it again for every app built is a no-op.
MALFORMED_REQUEST_FILTER = _MalformedRequestLine()


def guard_server_log() -> None:
    """Keep request bytes out of aiohttp's own error log; done where the app is built."""
    logging.getLogger("aiohttp.server").addFilter(MALFORMED_REQUEST_FILTER)


def quiet_libraries(level: int) -> None:
    for name in CHATTY_LIBRARIES + LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log pipelines (LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level_name: str, log_format: str = "text") -> None:
    level = logging.getLevelName(level_name)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries(level)
