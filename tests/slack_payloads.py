"""What Slack puts in a payload, built the way Slack builds it.

Every test that sends a slash command or a message shortcut goes through these, so no test
can send text Slack would never send (raw `&`, `<`, `>` in a command's text) or leave out what
Slack always sends (a message's `rich_text` blocks, Grid and shared-channel ids).

Sources:
- https://api.slack.com/reference/surfaces/formatting#escaping : `&`, `<` and `>` arrive as
  `&amp;`, `&lt;`, `&gt;` in text Slack sends, slash-command `text` included.
- https://api.slack.com/interactivity/slash-commands : with "Escape channels, users, and links"
  off (`should_escape: false`, as in manifest.yml) mentions and links arrive as typed; the
  three control characters are escaped all the same.
- https://api.slack.com/reference/block-kit/blocks#rich_text : what a person types in the
  composer arrives in `message.blocks` as one `rich_text` block; `message.text` holds the
  same in mrkdwn markup (`<https://…>`, `<mailto:a@b.c|a@b.c>`, `<@U…>`, fences).
"""

from __future__ import annotations

import copy
from typing import Any

Element = dict[str, Any]


def slack_escaped(typed: str) -> str:
    """What Slack sends for text a person typed: its three control characters escaped."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# rich_text elements, as in a message's `blocks`. Their text is not escaped: only the
# mrkdwn `text` of the message is.
def plain(text: str, **style: bool) -> Element:
    element: Element = {"type": "text", "text": text}
    if style:
        element["style"] = style
    return element


def link(url: str, text: str | None = None) -> Element:
    element: Element = {"type": "link", "url": url}
    if text is not None:
        element["text"] = text
    return element


def user(user_id: str) -> Element:
    return {"type": "user", "user_id": user_id}


def emoji(name: str, unicode: str = "", skin_tone: int | None = None) -> Element:
    element: Element = {"type": "emoji", "name": name}
    if unicode:
        element["unicode"] = unicode
    if skin_tone is not None:
        element["skin_tone"] = skin_tone
    return element


def section(*elements: Element) -> Element:
    return {"type": "rich_text_section", "elements": list(elements)}


def preformatted(code: str) -> Element:
    return {"type": "rich_text_preformatted", "elements": [plain(code)], "border": 0}


def rich_text(*parts: Element, block_id: str = "Zx9qD") -> dict:
    return {"type": "rich_text", "block_id": block_id, "elements": list(parts)}


def typed_message(typed: str) -> dict:
    """`text` and `blocks` of a message in which the author typed plain `typed`."""
    return {"text": slack_escaped(typed), "blocks": [rich_text(section(plain(typed)))]}


def message_action(base: dict, *, text: str, blocks: list[dict] | None = None) -> dict:
    """A message shortcut payload on a message with this mrkdwn `text` and these `blocks`."""
    data = copy.deepcopy(base)
    data["message"]["text"] = text
    if blocks is None:
        data["message"].pop("blocks", None)
    else:
        data["message"]["blocks"] = blocks
    return data


def in_grid(
    data: dict,
    enterprise_id: str,
    team_id: str,
    *,
    org_wide: bool = False,
    command: bool = False,
    user_team: str | None = None,
) -> dict:
    """The same payload from workspace `team_id` of Enterprise Grid org `enterprise_id`, for
    an app installed in that workspace or (org_wide) on the whole org, as Slack sends it.

    Commands are flat form fields (`team_id` the workspace, `enterprise_id`,
    `is_enterprise_install` as "true"). Interactive payloads carry `enterprise` and
    `is_enterprise_install` as JSON values, and:
    - `user.team_id` is the ORG's id by default: "The user.team_id will report an enterprise
      organization ID (which starts with an E) instead of team ID (which starts with a T),
      when using an Enterprise organization."
      (https://docs.slack.dev/reference/interaction-payloads/block_suggestion-payload).
      The docs state it for one payload type only, so `user_team=team_id` gives the variant
      that names the workspace; the app must take both for the same person.
    - `team` is null in view payloads of an org-wide install ("Null if the app is
      org-installed": https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload);
      the view still names its workspace in `view.team_id`, and the install in
      `view.app_installed_team_id` (the org, for an org-wide install)."""
    data = copy.deepcopy(data)
    if command:
        data.update(
            team_id=team_id,
            enterprise_id=enterprise_id,
            enterprise_name="Example Org",
            is_enterprise_install="true" if org_wide else "false",
        )
        return data
    data["enterprise"] = {"id": enterprise_id, "name": "Example Org"}
    data["is_enterprise_install"] = org_wide
    in_view = isinstance(data.get("view"), dict)
    if org_wide and in_view:
        data["team"] = None
    else:
        data["team"] = {"id": team_id, "domain": "example", "enterprise_id": enterprise_id}
    if isinstance(data.get("user"), dict):
        data["user"]["team_id"] = user_team or enterprise_id
    if in_view:
        data["view"].update(
            team_id=team_id, app_installed_team_id=enterprise_id if org_wide else team_id
        )
    return data


def from_shared_channel(data: dict, user_id: str, user_team: str) -> dict:
    """The same interactive payload clicked by `user_id` of workspace `user_team` in a Slack
    Connect channel: `team.id` stays the workspace the payload is for, `user.team_id` is the
    person's own workspace."""
    data = copy.deepcopy(data)
    data["user"] = {**data["user"], "id": user_id, "team_id": user_team}
    return data
