"""Block Kit for "my secrets" (`/secret list` and the App Home tab) and the admins' settings.

Pure functions, like handlers/blocks.py. Nothing here ever sees secret material: a creator's
list holds what the creator declared not secret (note, recipient) and dates.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import format_duration
from bot.service import Outcome, SecretSummary
from handlers.blocks import context, escape, plain, section, slack_date
from handlers.payloads import string_fields
from handlers.workspace import Policy, Prefs

LIST_BURN_ACTION = "burn_from_list"
PREF_DEFAULT_TTL = "pref_default_ttl"
PREF_MAX_TTL = "pref_max_ttl"
PREF_RECEIPTS = "pref_receipts"
LISTED_AT_MOST = 20  # a message holds 50 blocks; a list longer than this is not read anyway

_OUTCOME_WORDS = {
    Outcome.REVEALED: ":white_check_mark: Revealed",
    Outcome.BURNED: ":fire: Burned",
    Outcome.EXPIRED: ":hourglass: Expired unread",
    Outcome.CANCELLED: ":no_entry_sign: Cancelled",
}


LIST_CANCEL_ACTION = "cancel_outside_request_from_list"  # handled in handlers/outside.py


def _asked_outside(summary: SecretSummary, mark: str) -> dict:
    """A request to someone outside Slack: waiting, answered, cancelled or expired."""
    note = string_fields(summary.metadata).get("n", "")
    title = f"*{escape(note)}*" if note else "*A secret*"
    title += " asked of someone outside Slack"
    waiting = summary.outcome == Outcome.WAITING
    if mark == "waiting":
        state = {
            Outcome.WAITING: ":envelope: Waiting for the answer, expires "
            + slack_date(summary.expires_at),
            Outcome.EXPIRED: ":hourglass: Expired unanswered "
            + slack_date(summary.outcome_at or summary.expires_at),
            Outcome.CANCELLED: ":no_entry_sign: Cancelled " + slack_date(summary.outcome_at),
        }.get(summary.outcome, summary.outcome)
    elif waiting:
        state = ":inbox_tray: Answered: Reveal it in your DM, expires " + slack_date(
            summary.expires_at
        )
    else:
        words = {Outcome.REVEALED: ":white_check_mark: Answered and opened"}
        state = f"{words.get(summary.outcome, _OUTCOME_WORDS.get(summary.outcome, ''))} " + (
            slack_date(summary.outcome_at or summary.expires_at)
        )
    block = section(f"{title}\n{state} · asked {slack_date(summary.created_at)}")
    if waiting and mark == "waiting":
        block["accessory"] = {
            "type": "button",
            "action_id": LIST_CANCEL_ACTION,
            "text": plain("Cancel"),
            "value": summary.secret_id,
            "confirm": {
                "title": plain("Cancel this request?"),
                "text": plain("Its upload link stops working at once."),
                "confirm": plain("Cancel it"),
                "deny": plain("Keep it"),
            },
        }
    elif waiting:
        block["accessory"] = _burn_button(summary.secret_id)
    return block


def _burn_button(secret_id: str) -> dict:
    return {
        "type": "button",
        "action_id": LIST_BURN_ACTION,
        "text": plain("Burn now"),
        "style": "danger",
        "value": secret_id,
        "confirm": {
            "title": plain("Burn this secret?"),
            "text": plain("It will stop working for everyone."),
            "confirm": plain("Burn"),
            "deny": plain("Keep"),
        },
    }


def _entry(summary: SecretSummary) -> dict:
    declared = string_fields(summary.metadata)  # what the creator declared not secret
    if declared.get("q"):
        return _asked_outside(summary, declared["q"])
    note, recipient = declared.get("n", ""), declared.get("r", "")
    title = f"*{escape(note)}*" if note else "*A secret*"
    if recipient:
        title += f" for <@{recipient}>"
    if summary.outcome == Outcome.WAITING:
        state = f":lock: Waiting, expires {slack_date(summary.expires_at)}"
    else:
        state = f"{_OUTCOME_WORDS.get(summary.outcome, summary.outcome)} " + slack_date(
            summary.outcome_at or summary.expires_at
        )
    block = section(f"{title}\n{state} · created {slack_date(summary.created_at)}")
    if summary.outcome == Outcome.WAITING:
        block["accessory"] = _burn_button(summary.secret_id)
    return block


def secrets_blocks(summaries: Sequence[SecretSummary]) -> list[dict]:
    if not summaries:
        return [section("You have no secrets waiting, and none revealed in the last day.")]
    blocks = [_entry(summary) for summary in summaries[:LISTED_AT_MOST]]
    if len(summaries) > LISTED_AT_MOST:
        blocks.append(context(f"…and {len(summaries) - LISTED_AT_MOST} older ones."))
    return blocks


def list_message(summaries: Sequence[SecretSummary], *, replace_original: bool = False) -> dict:
    """`/secret list`: only the caller sees it."""
    return {
        "response_type": "ephemeral",
        "replace_original": replace_original,
        "text": "Your one-time secrets",
        "blocks": [
            {"type": "header", "text": plain("Your one-time secrets")},
            *secrets_blocks(summaries),
            context("Outcomes show for a day. Nothing here can reveal a secret."),
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _select(action_id: str, placeholder: str, options: list[tuple[str, str]], chosen: str):
    rendered = [{"text": plain(text), "value": value} for text, value in options]
    element = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder),
        "options": rendered,
    }
    initial = next((o for o in rendered if o["value"] == chosen), None)
    if initial:
        element["initial_option"] = initial
    return element


def settings_blocks(prefs: Prefs, policy: Policy, app_choices: tuple[int, ...]) -> list[dict]:
    """For workspace admins only: the app's limits narrowed for this workspace."""
    durations = [(format_duration(ttl), str(ttl)) for ttl in app_choices]
    return [
        {"type": "divider"},
        {"type": "header", "text": plain("Workspace settings")},
        section(
            "Only admins see this. Default and longest expiry apply to everyone's new "
            f"secrets here; now: default {format_duration(policy.default_ttl)}, at most "
            f"{format_duration(policy.max_ttl)}, receipts "
            f"{'on' if policy.receipts else 'off'}."
        ),
        {
            "type": "actions",
            "block_id": "workspace_settings",
            "elements": [
                _select(PREF_DEFAULT_TTL, "Default expiry", durations, str(policy.default_ttl)),
                _select(PREF_MAX_TTL, "Longest expiry", durations, str(policy.max_ttl)),
                _select(
                    PREF_RECEIPTS,
                    "Receipts",
                    [("Receipts on", "on"), ("Receipts off", "off")],
                    "on" if policy.receipts else "off",
                ),
            ],
        },
    ]


def home_view(summaries: Sequence[SecretSummary], admin_settings: list[dict] | None) -> dict:
    blocks = [
        {"type": "header", "text": plain("Your one-time secrets")},
        context(
            "Share one with `/secret`. Waiting ones can be burned here; outcomes show "
            "for a day. Nothing here can reveal a secret."
        ),
        *secrets_blocks(summaries),
    ]
    if admin_settings:
        blocks.extend(admin_settings)
    return {"type": "home", "blocks": blocks}
