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


# What a phone's keyboard makes of `--` (iOS Smart Punctuation: an em dash) and its cousins.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"


def is_flag(word: str, flag: str) -> bool:
    """`word` is the command flag `flag` (given as `--name`), also as a phone types it:
    `—name`, `–name`, `−−name`; any run of dashes, any case."""
    bare = word.lstrip(DASHES)
    return len(bare) < len(word) and bare.lower() == flag.lstrip("-").lower()


def after_first_word(typed: str) -> str:
    """What follows the first word of `typed` (`str.split(maxsplit=1)`'s second part), so
    leading blanks before the word do not shift the cut; "" when there is one word."""
    parts = typed.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def enterprise_of(body: Any) -> str:
    """The Enterprise Grid org a payload was sent for, "" outside Grid, read wherever Slack
    puts it (as bolt reads it): `enterprise_id` in commands and events (an event's
    `authorizations` first), `enterprise` (an object, or null) in interactive payloads,
    `team.enterprise_id` in some view payloads."""
    org = field(body, "enterprise")
    if isinstance(org, dict):
        org = org.get("id")
    if isinstance(org, str) and org:
        return org
    authorizations = field(body, "authorizations")
    if isinstance(authorizations, list) and authorizations:
        return text(authorizations[0], "enterprise_id")
    return text(body, "enterprise_id") or text(body, "team", "enterprise_id")


def workspace_of(body: Any) -> str:
    """The workspace (T…) a payload was sent for: a command's `team_id`, an interactive
    payload's `team.id`, or, when an org-wide install's payload has `team: null`, the
    view's `team_id`. Never the org's id: workspace settings and installs are per workspace."""
    if text(body, "user_id"):  # slash commands are flat form fields
        return text(body, "team_id")
    for found in (
        text(body, "team", "id"),
        text(body, "view", "team_id"),
        text(body, "team_id"),  # Events API callbacks
    ):
        if found.startswith("T"):
            return found
    return ""


def is_org_wide(body: Any) -> bool:
    """Whether an event is about an org-wide install. Slack's `authorizations` say so when
    present; without them, an event for the org itself (`team_id` E…) or for no workspace
    in an org is the org-wide install's: reading it as nobody's would forget nothing."""
    flag = field(body, "is_enterprise_install")
    authorizations = field(body, "authorizations")
    if isinstance(authorizations, list) and authorizations:
        flag = field(authorizations[0], "is_enterprise_install")
    if flag is True or flag == "true":
        return True
    if text(body, "team_id").startswith("E"):
        return True
    return not workspace_of(body) and bool(enterprise_of(body))


def team_ids_of(event: Any) -> list[str]:
    """The workspaces a team_access_revoked event names, read leniently: `team_ids` in the
    event, or one level deeper as Slack's own example nests it; only T… ids."""
    found = field(event, "team_ids")
    if not isinstance(found, list):
        found = field(event, "event", "team_ids")
    if not isinstance(found, list):
        return []
    return [team for team in found if isinstance(team, str) and team.startswith("T")]


def address(body: Any) -> str:
    """Where the app speaks back to the person behind a payload, as the token source in
    handlers/install.py reads it: "E…/T…" in Enterprise Grid (the org and the workspace;
    either kind of install then serves it), the workspace alone outside it. Stored with each
    secret, so receipts sent long after the request find the install that was asked."""
    enterprise = enterprise_of(body)
    workspace = workspace_of(body)
    return f"{enterprise}/{workspace}" if enterprise else workspace


def workspace_in(place: str) -> str:
    """The workspace part of an `address` ("" when an org-wide payload named none)."""
    return place.rpartition("/")[2]


def actor(body: Any) -> tuple[str, str]:
    """(scope, user id) of the person behind an interactive payload, a command or an event:
    the identity a secret's creator, burn, lists and bindings are keyed on.

    The scope is the person's Enterprise Grid org when they are in one, else their own
    workspace. Grid user ids are org-wide, and Slack names the same person's team
    differently by payload: a command carries the workspace (`team_id`, T…) beside
    `enterprise_id`, while an interactive payload's `user.team_id` may be the org (E…).
    Keyed on the org, both are the same person. Outside Grid it is (workspace, user id), as
    it always was, so stored owners and bindings keep working.

    The person's OWN team comes from `user.team_id` in interactive payloads: in a Slack
    Connect channel someone from another organisation carries theirs there, while `team`
    and `enterprise` name the side the payload was sent for. So the payload's org is taken
    as the person's only when their team is the payload's own workspace: a visitor whose
    `user.team_id` names another workspace keeps that workspace as their scope (it can
    never equal someone else's). User ids are only unique within their workspace or org,
    so the scope is part of the identity: the same user id elsewhere is somebody else."""
    if text(body, "user_id"):  # slash commands: always the invoking person's own workspace
        return text(body, "enterprise_id") or text(body, "team_id"), text(body, "user_id")
    user = field(body, "user")
    if isinstance(user, dict):
        user_id = text(user, "id")
        own = text(user, "team_id")
    else:  # Events API callbacks (app_home_opened): the user is the event's
        user_id = text(body, "event", "user")
        own = ""
    own = own or workspace_of(body) or text(body, "team", "id")
    if own.startswith("E"):
        return own, user_id
    enterprise = enterprise_of(body)
    if enterprise and own == workspace_of(body):
        return enterprise, user_id
    return own, user_id


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


def read_metadata(private_metadata: str | None) -> dict:
    """A modal's private_metadata we wrote as a JSON object, with all its values; {} for
    anything else."""
    try:
        metadata = json.loads(private_metadata or "{}")
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}
