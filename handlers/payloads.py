"""Safe reading of Slack payloads.

Payloads are signed by Slack, but their shape still varies (enterprise installs, surfaces,
future fields). Reading through these helpers means a missing or odd field becomes an empty
value and a calm message, never a KeyError before the ack (which Slack would see as a 500).
"""

from __future__ import annotations

import json
from typing import Any


def field(data: Any, *path: str) -> Any:
    """The value at `path` through nested dicts, or None if any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def text(data: Any, *path: str) -> str:
    """A string at `path`, or ""; anything that is not a string counts as missing."""
    value = field(data, *path)
    return value if isinstance(value, str) else ""


def actor(body: Any) -> tuple[str, str]:
    """(team id, user id) of the person behind an interactive payload or a command."""
    if text(body, "user_id"):  # slash commands are flat form fields
        return text(body, "team_id"), text(body, "user_id")
    team = text(body, "user", "team_id") or text(body, "team", "id")
    return team, text(body, "user", "id")


def string_fields(raw: str | None) -> dict[str, str]:
    """A JSON object we wrote into a button value or a modal's private_metadata, reduced to
    its string fields; {} for anything else."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}
