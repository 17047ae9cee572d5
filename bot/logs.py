"""Logging set-up, done by the `oncelink` command and never at import time.

Slack payloads carry secrets, and slack_bolt / slack_sdk print whole request bodies and
API arguments at DEBUG. Their loggers are held at INFO whatever LOG_LEVEL says, so turning
on DEBUG to chase a bug never writes a secret or a link to the log.
"""

from __future__ import annotations

import logging
import sys

CHATTY_LIBRARIES = ("slack_bolt", "slack_sdk")


def quiet_libraries(level: int) -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.INFO))


def configure_logging(level_name: str) -> None:
    level = logging.getLevelName(level_name)
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        force=True,
    )
    quiet_libraries(level)
