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
REVEAL_ACTION = "reveal_bound_secret"
PASSPHRASE_MODAL = "bound_passphrase_modal"
REQUEST_MODAL = "request_secret_modal"
ANSWER_ACTION = "answer_secret_request"
ANSWER_MODAL = "answer_secret_request_modal"
COMPOSE_BLOCK, COMPOSE_ACTION = "compose_block", "compose_in_browser"  # handlers/compose.py
COMPOSE_PICK_CALLBACK = "compose_pick"  # handlers/compose.py: `/secret compose @someone`

SECRET_BLOCK, SECRET_INPUT = "secret_block", "secret_input"
EXPIRY_BLOCK, EXPIRY_SELECT = "expiry_block", "expiry_select"
PASSPHRASE_BLOCK, PASSPHRASE_INPUT = "passphrase_block", "passphrase_input"
RECIPIENT_BLOCK, RECIPIENT_SELECT = "recipient_block", "recipient_select"
NOTE_BLOCK, NOTE_INPUT = "note_block", "note_input"
BOUND_BLOCK, BOUND_CHECK = "bound_block", "bound_check"
BOUND_OPTION = "only_recipient"
ASK_BLOCK, ASK_SELECT = "ask_block", "ask_select"
OUTSIDE_BLOCK, OUTSIDE_CHECK, OUTSIDE_OPTION = "outside_block", "outside_check", "outside"

SLACK_INPUT_MAX = 3000  # plain_text_input's max_length ceiling
NOTE_MAX = 150


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def escape(text: str) -> str:
    """Slack's three control characters; notes are user text shown back in mrkdwn."""
    return html.escape(text, quote=False)


def link_markup(url: str) -> str:
    """A link as Slack's mrkdwn writes one. Bare, a key's `_` (base64url) can be read as the
    start or end of _italics_ with the text around it, and the link breaks; inside <...>
    Slack reads a URL and nothing else. Our links hold no `|` or `>` to end it early."""
    return f"<{url}>"


def slack_date(timestamp: float) -> str:
    """A date every reader sees in their own time zone, with a plain fallback."""
    ts = int(timestamp)
    return f"<!date^{ts}^{{date_short_pretty}} at {{time}}|in a while>"


def section(text: str) -> dict:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> dict:
    return {"type": "context", "elements": [mrkdwn(text)]}


def dm_message(fallback: str, blocks: list[dict]) -> dict:
    """A message that never unfurls: some hold links, and a preview would fetch the page."""
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _one_button(block_id: str, action_id: str, label: str, value: str) -> dict:
    """An actions block with the message's one primary button."""
    button = {"type": "button", "action_id": action_id, "text": plain(label), "style": "primary"}
    return {"type": "actions", "block_id": block_id, "elements": [{**button, "value": value}]}


def share_modal(
    *,
    expiry_choices: tuple[int, ...],
    default_ttl: int,
    private_metadata: str,
    prefill: str = "",
) -> dict:
    """The "Share a one-time secret" modal; the same for the command and the shortcut."""
    options = [{"text": plain(format_duration(ttl)), "value": str(ttl)} for ttl in expiry_choices]
    initial = next((o for o in options if o["value"] == str(default_ttl)), options[-1])
    secret_element = {
        "type": "plain_text_input",
        "action_id": SECRET_INPUT,
        "multiline": True,
        "max_length": SLACK_INPUT_MAX,
        "placeholder": plain("Password, token, recovery code…"),
    }
    if prefill:
        secret_element["initial_value"] = prefill[:SLACK_INPUT_MAX]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": private_metadata,
        "title": plain("Share a one-time secret"),
        "submit": plain("Create link"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": SECRET_BLOCK,
                "label": plain("Secret"),
                "element": secret_element,
                # What is typed here reaches Slack and this app with any click in the form
                # (the view's state), the compose button's too: the hint says so before.
                "hint": plain(
                    "Encrypted at once. The link shows it exactly once. What you type here "
                    "passes through Slack: to keep it from Slack and this app's server, click "
                    "Write it in my browser instead (below) before you type."
                ),
            },
            {
                "type": "input",
                "block_id": EXPIRY_BLOCK,
                "label": plain("Expires after"),
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
                "label": plain("Passphrase"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": PASSPHRASE_INPUT,
                    "max_length": 200,
                    "placeholder": plain("Optional; tell it to the recipient another way"),
                },
            },
            {
                "type": "input",
                "block_id": RECIPIENT_BLOCK,
                "optional": True,
                "label": plain("Send the link to"),
                "element": {"type": "users_select", "action_id": RECIPIENT_SELECT},
            },
            {
                "type": "input",
                "block_id": BOUND_BLOCK,
                "optional": True,
                "label": plain("Who can open it"),
                "element": {
                    "type": "checkboxes",
                    "action_id": BOUND_CHECK,
                    "options": [_bound_option()],
                },
            },
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "optional": True,
                "label": plain("Note (not secret)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT,
                    "max_length": NOTE_MAX,
                    "placeholder": plain("e.g. DB password for staging"),
                },
            },
            {
                "type": "actions",
                "block_id": COMPOSE_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "action_id": COMPOSE_ACTION,
                        "text": plain("Write it in my browser instead"),
                    }
                ],
            },
        ],
    }


def _bound_option() -> dict:
    # Slack refuses an option description over 75 characters (the whole modal with it).
    return {
        "text": plain("Only the person above"),
        "description": plain(
            "They get a Reveal button in Slack, not a link; nobody else can open it."
        ),
        "value": BOUND_OPTION,
    }


@dataclass(frozen=True, slots=True)
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
    bound: bool = False  # only the recipient can open it, from Slack: no link to show


def link_message(details: LinkDetails) -> dict:
    """The ephemeral confirmation only the creator sees, with a Burn now button."""
    facts = [f"Viewable once. Expires {slack_date(details.expires_at)}."]
    if details.has_passphrase:
        facts.append("Protected by a passphrase: share it another way than the link.")
    if details.bound:
        facts.append(f"Sent to <@{details.recipient}>; only they can open it, in Slack.")
    elif details.recipient and details.recipient_sent:
        facts.append(f"Sent to <@{details.recipient}> in a direct message.")
    elif details.recipient:
        facts.append(
            f":warning: Couldn't send it to <@{details.recipient}>; pass the link on yourself."
        )
    headline = (
        ":lock: *Your one-time secret is on its way*"
        if details.bound
        else f":lock: *Your one-time secret link*\n{link_markup(details.link)}"
    )
    blocks: list[dict] = [section(headline)]
    if details.generated_password:
        blocks.append(
            section(
                "*Generated password* (only you see it, only here; the link shows it "
                f"once to whoever you send it to):\n```{escape(details.generated_password)}```"
            )
        )
    if details.note:
        blocks.append(section(f"*Note:* {escape(details.note)}"))
    blocks.append(context(" ".join(facts)))
    if details.from_shortcut:
        blocks.append(
            context(
                ":wastebasket: The original message still shows the secret in plain "
                "text. Consider deleting it."
            )
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": "secret_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": BURN_ACTION,
                    "text": plain("Burn now"),
                    "style": "danger",
                    "value": details.secret_id,
                    "confirm": {
                        "title": plain("Burn this secret?"),
                        "text": plain("The link will stop working for everyone."),
                        "confirm": plain("Burn"),
                        "deny": plain("Keep"),
                    },
                }
            ],
        }
    )
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        # Slack shows `text` in push and email notifications: never the link in it.
        "text": (
            f"Your one-time secret was sent to <@{details.recipient}>."
            if details.bound
            else "Your one-time secret link is ready. Only you can see it."
        ),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def recipient_message(*, creator: str, link: str, note: str, expires_at: float) -> dict:
    lines = [f":lock: <@{creator}> shared a one-time secret with you."]
    if note:
        lines.append(f"*Note:* {escape(note)}")
    lines.append(link_markup(link))
    return dm_message(
        f"<@{creator}> shared a one-time secret with you.",  # no link: notifications show it
        [
            section("\n".join(lines)),
            context(
                f"It can be viewed once and expires {slack_date(expires_at)}. "
                "Opening the page does not use it up; only *Reveal* does."
            ),
        ],
    )


def _receipt(title: str, headline: str, note: str, footer: str) -> dict:
    """A receipt DM: what happened, the creator's note if any, what it means now."""
    text = f"{headline}\n*Note:* {escape(note)}" if note else headline
    return dm_message(title, [section(text), context(footer)])


def conversation_name(channel: str) -> str:
    """Where a secret was made, as a receipt names it. <#…> names channels; a DM's id
    (D…) written that way shows no name a person would recognise. Slack calls a DM's
    channel "directmessage" in a command's channel_name."""
    if channel.startswith("D") or channel == "directmessage":
        return "in a direct message"
    return f"in <#{channel}>"


def receipt_message(*, revealed_at: float, note: str, channel: str) -> dict:
    where = f" you created {conversation_name(channel)}" if channel else ""
    return _receipt(
        "Your one-time secret was revealed.",
        f":eyes: A one-time secret{where} was revealed {slack_date(revealed_at)}.",
        note,
        "It is now deleted. The link no longer works.",
    )


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
        # Escaped: a bare <text> is a link to "text" in Slack's mrkdwn.
        f"• `{command} &lt;text&gt;` makes a link from the text at once "
        f"(expires after {format_duration(default_ttl)}).\n"
        f"• `{command} generate [length] [--no-symbols]` makes a strong random password "
        "(20 characters by default), shows it to you and gives you a one-time link to it.\n"
        f"• `{command} request [@someone] [what for]` asks someone for a secret: they get a "
        "button to send it, and you get a *Reveal* button only you can use.\n"
        f"• `{command} request --outside [what for]` gives you a one-time upload link for "
        "someone outside Slack: their browser encrypts what they send, and only you open it.\n"
        f"• `{command} compose [@someone]` gives you a one-time page to write a secret or "
        "attach a file in your browser, where it is encrypted: Slack never sees it. With "
        "@someone (or anything after it) it first asks you to pick whom the page may send "
        "the link to.\n"
        f"• `{command} token` gives you a personal API token for `oncelink share` in a "
        f"terminal (shown once; `{command} token revoke` removes it).\n"
        f"• `{command} list` shows your secrets still waiting (with *Burn now*) and, for a "
        "day, what became of the others. The app's *App Home* tab shows the same.\n"
        f"• `{command} help` shows this.\n"
        "• In the form, *Only the person above* sends a *Reveal* button instead of a link: "
        "only that person can open it, in Slack.\n"
        "• On any message: *More actions* → *Share as one-time secret*.\n"
        "Only you see the link. Opening it does not use it up; clicking *Reveal* does, once. "
        "The secret is encrypted with a key that lives only in the link."
    )


def bound_message(
    *, creator: str, reveal_value: str, note: str, expires_at: float, has_passphrase: bool
) -> dict:
    """The recipient's DM for a bound secret: a Reveal button instead of a link.

    `reveal_value` carries the key: like a link, it is held by Slack and shown to nobody;
    revealing replaces this message, so the key does not stay in Slack either."""
    lines = [f":lock: <@{creator}> sent you a one-time secret that only you can open."]
    if note:
        lines.append(f"*Note:* {escape(note)}")
    ask = " You will need the passphrase they tell you." if has_passphrase else ""
    return dm_message(
        "A one-time secret that only you can open.",
        [
            section("\n".join(lines)),
            _one_button("bound_actions", REVEAL_ACTION, "Reveal", reveal_value),
            context(
                f"It shows once, in a window only you see, and expires "
                f"{slack_date(expires_at)}.{ask}"
            ),
        ],
    )


def revealed_in_slack_message(revealed_at: float) -> dict:
    """Replaces the recipient's DM after the reveal: the button and its key are gone."""
    text = f":white_check_mark: You revealed this one-time secret {slack_date(revealed_at)}."
    return {
        "replace_original": True,
        "text": "You revealed this one-time secret. It is deleted.",
        "blocks": [section(text), context("It is deleted and cannot be shown again.")],
    }


def _modal(title: str, blocks: list[dict], **extra) -> dict:
    return {"type": "modal", "title": plain(title), "blocks": blocks, **extra}


def opening_modal() -> dict:
    """Shown at once (the trigger expires in 3 s); the secret replaces it a moment later."""
    return _modal(
        "One-time secret",
        [section(":hourglass_flowing_sand: Opening the secret…")],
        close=plain("Close"),
    )


def passphrase_modal(private_metadata: str, creator: str) -> dict:
    return _modal(
        "One-time secret",
        [
            section(f"<@{creator}> protected this secret with a passphrase. It shows once."),
            {
                "type": "input",
                "block_id": PASSPHRASE_BLOCK,
                "label": plain("Passphrase"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": PASSPHRASE_INPUT,
                    "max_length": 200,
                },
            },
        ],
        callback_id=PASSPHRASE_MODAL,
        private_metadata=private_metadata,
        submit=plain("Reveal"),
        close=plain("Cancel"),
    )


PREFORMATTED_CHUNK = 2900  # below Block Kit's 3000-character text limits


def secret_modal(plaintext: str) -> dict:
    """The secret, shown once. Preformatted rich text shows it character for character:
    no mrkdwn, no mentions, no links are read into it."""
    chunks = [
        plaintext[i : i + PREFORMATTED_CHUNK] for i in range(0, len(plaintext), PREFORMATTED_CHUNK)
    ]
    blocks = [
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": chunk}]}
            ],
        }
        for chunk in chunks
    ]
    blocks.append(context("Copy it now: it is deleted and this window is the only place it shows."))
    return _modal("One-time secret", blocks, close=plain("Done"))


def sorry_modal(text: str) -> dict:
    return _modal(
        "One-time secret",
        [section(text)],
        close=plain("Close"),
    )


def request_modal(*, private_metadata: str, asked: str = "", what_for: str = "") -> dict:
    """`/secret request`: whom to ask, and what for."""
    ask_element: dict = {"type": "users_select", "action_id": ASK_SELECT}
    if asked:
        ask_element["initial_user"] = asked
    note_element: dict = {
        "type": "plain_text_input",
        "action_id": NOTE_INPUT,
        "max_length": NOTE_MAX,
        "placeholder": plain("e.g. the staging DB password"),
    }
    note_block: dict = {
        "type": "input",
        "block_id": NOTE_BLOCK,
        "optional": True,
        "label": plain("What for (not secret)"),
        "element": note_element,
    }
    if what_for:
        note_element["initial_value"] = what_for
    if len(what_for) > NOTE_MAX:
        # Typed after the command, too long: shown whole to shorten, never cut. Slack refuses
        # an initial value over max_length; the submission checks the length instead.
        del note_element["max_length"]
        note_block["hint"] = plain(
            f"This note is {len(what_for)} characters; at most {NOTE_MAX} fit. "
            "Shorten it before you ask."
        )
    return _modal(
        "Request a secret",
        [
            {
                "type": "input",
                "block_id": ASK_BLOCK,
                "optional": True,  # or someone outside Slack, below
                "label": plain("Ask"),
                "element": ask_element,
            },
            note_block,
            {
                "type": "input",
                "block_id": OUTSIDE_BLOCK,
                "optional": True,
                "label": plain("Or ask instead"),
                "element": {
                    "type": "checkboxes",
                    "action_id": OUTSIDE_CHECK,
                    "options": [
                        {
                            "text": plain("Someone outside Slack"),
                            "description": plain(
                                "You get a one-time upload link to send them; only you can open it."
                            ),
                            "value": OUTSIDE_OPTION,
                        }
                    ],
                },
            },
        ],
        callback_id=REQUEST_MODAL,
        private_metadata=private_metadata,
        submit=plain("Ask"),
        close=plain("Cancel"),
    )


def request_message(*, requester: str, request_id: str, what_for: str, expires_at: float) -> dict:
    """The DM to the person asked: a button that opens a form for the secret."""
    text = f":key: <@{requester}> asks you for a secret."
    if what_for:
        text += f"\n*For:* {escape(what_for)}"
    return dm_message(
        "A colleague asks you for a secret.",
        [
            section(text),
            _one_button("request_actions", ANSWER_ACTION, "Send the secret", request_id),
            context(
                "It reaches only them, once, encrypted. The request expires "
                f"{slack_date(expires_at)}."
            ),
        ],
    )


def answer_modal(*, private_metadata: str, requester: str, what_for: str) -> dict:
    intro = f"<@{requester}> will get a Reveal button that only they can use, once."
    if what_for:
        intro += f"\n*For:* {escape(what_for)}"
    return _modal(
        "Send a secret",
        [
            section(intro),
            {
                "type": "input",
                "block_id": SECRET_BLOCK,
                "label": plain("Secret"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": SECRET_INPUT,
                    "multiline": True,
                    "max_length": SLACK_INPUT_MAX,
                },
            },
        ],
        callback_id=ANSWER_MODAL,
        private_metadata=private_metadata,
        submit=plain("Send"),
        close=plain("Cancel"),
    )


def expiry_receipt_message(*, expires_at: float, note: str, recipient: str) -> dict:
    to = f" for <@{recipient}>" if recipient else ""
    return _receipt(
        "Your one-time secret expired unread.",
        f":hourglass: A one-time secret you created{to} expired unread {slack_date(expires_at)}.",
        note,
        "Nobody saw it, and it is deleted. Share it again if needed.",
    )
