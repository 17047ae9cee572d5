"""Block Kit views and messages as pure functions: data in, dict out.

Kept apart from the listeners so each can be read next to Slack's Block Kit reference and
unit-tested without a server. Nothing here sees a plaintext secret except `share_modal`'s
prefill, which goes straight back to the person who wrote it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from bot.config import format_duration

MODAL_CALLBACK = "share_secret_modal"
SHORTCUT_CALLBACK = "share_as_secret"
BURN_ACTION = "burn_secret"

SECRET_BLOCK, SECRET_INPUT = "secret_block", "secret_input"
EXPIRY_BLOCK, EXPIRY_SELECT = "expiry_block", "expiry_select"
PASSPHRASE_BLOCK, PASSPHRASE_INPUT = "passphrase_block", "passphrase_input"
RECIPIENT_BLOCK, RECIPIENT_SELECT = "recipient_block", "recipient_select"
NOTE_BLOCK, NOTE_INPUT = "note_block", "note_input"

SLACK_INPUT_MAX = 3000  # plain_text_input's max_length ceiling
NOTE_MAX = 150


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def escape(text: str) -> str:
    """Slack's three control characters; notes are user text shown back in mrkdwn."""
    return html.escape(text, quote=False)


def slack_date(timestamp: float) -> str:
    """A date every reader sees in their own time zone, with a plain fallback."""
    ts = int(timestamp)
    return f"<!date^{ts}^{{date_short_pretty}} at {{time}}|in a while>"


def share_modal(
    *,
    expiry_choices: tuple[int, ...],
    default_ttl: int,
    private_metadata: str,
    prefill: str = "",
) -> dict:
    """The "Share a one-time secret" modal; the same for the command and the shortcut."""
    options = [{"text": _plain(format_duration(ttl)), "value": str(ttl)} for ttl in expiry_choices]
    initial = next((o for o in options if o["value"] == str(default_ttl)), options[-1])
    secret_element = {
        "type": "plain_text_input",
        "action_id": SECRET_INPUT,
        "multiline": True,
        "max_length": SLACK_INPUT_MAX,
        "placeholder": _plain("Password, token, recovery code…"),
    }
    if prefill:
        secret_element["initial_value"] = prefill[:SLACK_INPUT_MAX]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": private_metadata,
        "title": _plain("Share a one-time secret"),
        "submit": _plain("Create link"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": SECRET_BLOCK,
                "label": _plain("Secret"),
                "element": secret_element,
                "hint": _plain("Encrypted at once. The link shows it exactly once."),
            },
            {
                "type": "input",
                "block_id": EXPIRY_BLOCK,
                "label": _plain("Expires after"),
                "element": {
                    "type": "static_select",
                    "action_id": EXPIRY_SELECT,
                    "options": options,
                    "initial_option": initial,
                },
            },
            {
                "type": "input",
                "block_id": PASSPHRASE_BLOCK,
                "optional": True,
                "label": _plain("Passphrase"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": PASSPHRASE_INPUT,
                    "max_length": 200,
                    "placeholder": _plain("Optional; tell it to the recipient another way"),
                },
            },
            {
                "type": "input",
                "block_id": RECIPIENT_BLOCK,
                "optional": True,
                "label": _plain("Send the link to"),
                "element": {"type": "users_select", "action_id": RECIPIENT_SELECT},
            },
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "optional": True,
                "label": _plain("Note (not secret)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT,
                    "max_length": NOTE_MAX,
                    "placeholder": _plain("e.g. DB password for staging"),
                },
            },
        ],
    }


@dataclass(frozen=True)
class LinkDetails:
    """What the creator's confirmation says. `link` holds the key: shown, never logged."""

    secret_id: str
    link: str = field(repr=False)
    expires_at: float
    note: str = ""
    has_passphrase: bool = False
    recipient: str = ""
    recipient_sent: bool = False
    from_shortcut: bool = False
    generated_password: str = field(default="", repr=False)


def link_message(details: LinkDetails) -> dict:
    """The ephemeral confirmation only the creator sees, with a Burn now button."""
    facts = [f"Viewable once. Expires {slack_date(details.expires_at)}."]
    if details.has_passphrase:
        facts.append("Protected by a passphrase: share it another way than the link.")
    if details.recipient and details.recipient_sent:
        facts.append(f"Sent to <@{details.recipient}> in a direct message.")
    elif details.recipient:
        facts.append(
            f":warning: Couldn't send it to <@{details.recipient}>; pass the link on yourself."
        )
    blocks: list[dict] = [
        {
            "type": "section",
            "text": _mrkdwn(f":lock: *Your one-time secret link*\n{details.link}"),
        },
    ]
    if details.generated_password:
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(
                    "*Generated password* (only you see it, only here; the link shows it "
                    f"once to whoever you send it to):\n```{escape(details.generated_password)}```"
                ),
            }
        )
    if details.note:
        blocks.append({"type": "section", "text": _mrkdwn(f"*Note:* {escape(details.note)}")})
    blocks.append({"type": "context", "elements": [_mrkdwn(" ".join(facts))]})
    if details.from_shortcut:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    _mrkdwn(
                        ":wastebasket: The original message still shows the secret in plain "
                        "text. Consider deleting it."
                    )
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": "secret_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": BURN_ACTION,
                    "text": _plain("Burn now"),
                    "style": "danger",
                    "value": details.secret_id,
                    "confirm": {
                        "title": _plain("Burn this secret?"),
                        "text": _plain("The link will stop working for everyone."),
                        "confirm": _plain("Burn"),
                        "deny": _plain("Keep"),
                    },
                }
            ],
        }
    )
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": f"Your one-time secret link: {details.link}",
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def recipient_message(*, creator: str, link: str, note: str, expires_at: float) -> dict:
    lines = [f":lock: <@{creator}> shared a one-time secret with you."]
    if note:
        lines.append(f"*Note:* {escape(note)}")
    lines.append(link)
    return {
        "text": f"A one-time secret from a colleague: {link}",
        "blocks": [
            {"type": "section", "text": _mrkdwn("\n".join(lines))},
            {
                "type": "context",
                "elements": [
                    _mrkdwn(
                        f"It can be viewed once and expires {slack_date(expires_at)}. "
                        "Opening the page does not use it up; only *Reveal* does."
                    )
                ],
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def receipt_message(*, revealed_at: float, note: str, channel: str) -> dict:
    where = f" you created in <#{channel}>" if channel else ""
    text = f":eyes: A one-time secret{where} was revealed {slack_date(revealed_at)}."
    if note:
        text += f"\n*Note:* {escape(note)}"
    return {
        "text": "Your one-time secret was revealed.",
        "blocks": [
            {"type": "section", "text": _mrkdwn(text)},
            {
                "type": "context",
                "elements": [_mrkdwn("It is now deleted. The link no longer works.")],
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def notice(text: str, *, replace_original: bool = False) -> dict:
    """A short ephemeral message (errors, burned, help)."""
    return {
        "response_type": "ephemeral",
        "replace_original": replace_original,
        "text": text,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def help_text(command: str, expiry_choices: tuple[int, ...], default_ttl: int) -> str:
    choices = ", ".join(format_duration(ttl) for ttl in expiry_choices)
    return (
        f"*{command}* shares a secret as a link that works exactly once.\n"
        f"• `{command}` opens a form: the secret, expiry ({choices}), an optional "
        "passphrase, recipient and note.\n"
        f"• `{command} <text>` makes a link from the text at once "
        f"(expires after {format_duration(default_ttl)}).\n"
        f"• `{command} generate [length] [--no-symbols]` makes a strong random password "
        "(20 characters by default), shows it to you and gives you a one-time link to it.\n"
        f"• `{command} help` shows this.\n"
        "• On any message: *More actions* → *Share as one-time secret*.\n"
        "Only you see the link. Opening it does not use it up; clicking *Reveal* does, once. "
        "The secret is encrypted with a key that lives only in the link."
    )
