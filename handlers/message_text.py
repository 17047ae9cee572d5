"""The text the author of a Slack message typed, rebuilt from what Slack sends about it.

A message shortcut hands over the message twice: `blocks` (one `rich_text` block when a
person wrote it in the composer) and `text`, the same in mrkdwn markup with `&`, `<` and `>`
escaped. A password pasted into a message must come back into the form exactly as typed, so
the rich_text is preferred: it holds the typed characters unescaped, links and emails with
the text the author wrote. The markup is the fallback for messages without it (bots, apps,
older clients).

What comes back for each kind of element:
- text, inline code and code blocks: their characters, without formatting marks;
- links: the text shown for them (what the author typed or pasted), else the URL; an email
  address as the address, without `mailto:`;
- user mentions: `@` and the user id (`@U0123ABCD`). The payload has no names, and asking
  Slack for one would spend the 3 seconds the form has to open in; a plain id never turns
  into a mention or a notification when the text is shown again;
- channel mentions `#` and the id; `@here`, `@channel`, `@everyone`; emoji as `:name:`,
  with `:skin-tone-N:` after it when the element has a skin tone;
- list items on their own lines (`- ` or `1. `), quotes with `> `.
An element this module does not know makes it fall back to the markup rather than drop text.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.payloads import slack_unescape


class _Unknown(Exception):
    """A rich_text element we cannot render faithfully: use the message's text instead."""


def typed_text(message: Any) -> str:
    """What the author typed in `message` (a message shortcut's `message`), or ""."""
    if not isinstance(message, dict):
        return ""
    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks and all(_is_rich_text(b) for b in blocks):
        try:
            return "\n".join(_block(block) for block in blocks)
        except _Unknown:
            pass
    text = message.get("text")
    return from_markup(text) if isinstance(text, str) else ""


def _is_rich_text(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "rich_text"


def _block(block: dict) -> str:
    out = ""
    after_block = False  # the last piece was a code block, quote or list
    for part in _list(block.get("elements")):
        kind = part.get("type")
        if kind == "rich_text_section":
            piece, standalone = _inline(part), False
        elif kind == "rich_text_preformatted":
            piece, standalone = _inline(part), True
        elif kind == "rich_text_quote":
            piece, standalone = "\n".join("> " + line for line in _inline(part).split("\n")), True
        elif kind == "rich_text_list":
            piece, standalone = _bullets(part), True
        else:
            raise _Unknown(kind)
        # Code blocks, quotes and lists stand on lines of their own, though Slack does not
        # always end the text before them (or start the text after them) with a newline.
        if out and not out.endswith("\n") and (standalone or after_block):
            out += "\n"
        out += piece
        after_block = standalone
    return out


def _bullets(part: dict) -> str:
    ordered = part.get("style") == "ordered"
    indent, start = part.get("indent"), part.get("offset")
    indent = indent if isinstance(indent, int) else 0
    start = start if isinstance(start, int) else 0
    lines = []
    for number, item in enumerate(_list(part.get("elements")), start + 1):
        mark = f"{number}. " if ordered else "- "
        lines.append("    " * indent + mark + _inline(item))
    return "\n".join(lines)


def _inline(part: dict) -> str:
    return "".join(_element(element) for element in _list(part.get("elements")))


_BROADCAST = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def _element(element: dict) -> str:
    kind = element.get("type")
    if kind == "text":
        return _string(element, "text")
    if kind == "link":
        url = _string(element, "url")
        shown = _string(element, "text")
        if shown:
            return shown
        return url.removeprefix("mailto:")
    if kind == "user":
        return "@" + _string(element, "user_id")
    if kind == "usergroup":
        return "@" + _string(element, "usergroup_id")
    if kind == "channel":
        return "#" + _string(element, "channel_id")
    if kind == "broadcast":
        return _BROADCAST.get(_string(element, "range"), "@" + _string(element, "range"))
    if kind == "emoji":
        # A skin tone is its own code after the name (":+1::skin-tone-2:" as typed); the
        # element carries it as a number beside the name.
        tone = element.get("skin_tone")
        suffix = f":skin-tone-{tone}:" if isinstance(tone, int) and 1 <= tone <= 6 else ""
        return f":{_string(element, 'name')}:{suffix}"
    if kind == "date":
        return _string(element, "fallback") or _string(element, "timestamp")
    if kind == "color":
        return _string(element, "value")
    raise _Unknown(kind)


def _string(element: dict, key: str) -> str:
    value = element.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise _Unknown(key)
    return str(value)


def _list(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Unknown("elements")
    return value


# <target> or <target|label>, as Slack writes links, mentions and dates in mrkdwn.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def from_markup(escaped: str) -> str:
    """A message's mrkdwn `text` back to plain typed text: `<url|label>` as its label,
    `<url>` as the URL, `<mailto:x|x>` as the address, `<@U…>` as `@U…`, `<@U…|name>` as
    `@name`, and `&amp;`, `&lt;`, `&gt;` undone last (they sit inside the markup too).
    Backticks and other mrkdwn marks stay: without the rich_text nobody can tell formatting
    from characters of a password, and dropping them would change the secret."""

    def one(found: re.Match) -> str:
        target, label = found.group(1), found.group(2)
        if target.startswith(("@", "#")):
            return target[0] + label.lstrip("@#") if label else target
        if target.startswith("!"):
            name, _, argument = target[1:].partition("^")
            if name in _BROADCAST:
                return _BROADCAST[name]
            if label:
                return label  # a user group's @handle, a date's fallback
            return "@" + argument.split("^", 1)[0] if name == "subteam" else target
        if label:
            return label
        return target.removeprefix("mailto:")

    return slack_unescape(_MARKUP.sub(one, escaped))
