"""Safe reading of Slack payloads.

Payloads are signed by Slack, but their shape still varies (enterprise installs, surfaces,
future fields). Reading through these helpers means a missing or odd field becomes an empty
value and a calm message, never a KeyError before the ack (which Slack would see as a 500).
"""

from __future__ import annotations

import json
import re
from typing import Any

# Slack's escapes for its three control characters: the only entities in text it sends,
# since a typed "&" arrives as "&amp;" (a typed "&lt;" arrives as "&amp;lt;").
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHAR = {"amp": "&", "lt": "<", "gt": ">"}


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


def slack_unescape(escaped: str) -> str:
    """Text Slack sent, as the person typed it: `&amp;`, `&lt;`, `&gt;` undone in one pass
    (two passes would turn a typed "&lt;" into "<"). Other entities are left alone: Slack
    never makes them, so they were typed."""
    return _SLACK_ENTITY.sub(lambda found: _ENTITY_CHAR[found.group(1)], escaped)


def command_text(command: Any) -> str:
    """A slash command's `text` as typed. Slack escapes `&`, `<` and `>` in it whatever the
    command's "escape" setting (that setting only turns mentions and links into markup), so
    `/secret p&ss<w>rd` arrives as `p&amp;ss&lt;w&gt;rd`; every command path reads its text
    here, once."""
    return slack_unescape(text(command, "text"))


def actor(body: Any) -> tuple[str, str]:
    """(team id, user id) of the person behind an interactive payload or a command: the
    identity a secret's creator, burn and bindings are keyed on.

    The team is the person's OWN workspace: `user.team_id` in interactive payloads (in a
    Slack Connect channel someone from another organisation carries their workspace there,
    while `team.id` names the workspace the payload was sent for), and `team_id` in a slash
    command (a command always runs in the invoking person's own workspace's install, so
    that is theirs). User ids are only unique within their workspace or org, so the team is
    part of the identity: the same user id from another workspace is somebody else."""
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
