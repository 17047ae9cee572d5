"""What Slack refuses: its documented Block Kit and surface limits, each encoded once.

The fake Slack (tests/slack_fake.py) runs every view and message the app sends through
`check_call`, and refuses the call the way Slack does when a rule is broken. A rule here is
only worth its source: each limit names the reference page that states it. Slack's
reference lives at docs.slack.dev (the api.slack.com/reference/... addresses redirect
there); Slack's Node SDK types (slackapi/node-slack-sdk, packages/types/src/block-kit and
views.ts) repeat the same limits in their doc comments.

Lengths are counted in characters (code points), as the pages state them. Each problem reads
as Slack words its own: `[ERROR] <what> [json-pointer:<where>]`.
"""

from __future__ import annotations

import json
from typing import Any

# --- Surfaces ------------------------------------------------------------------------------
# docs.slack.dev/reference/views (modal and Home tab view objects): title, submit and close are
# plain_text of at most 24 characters; submit is required when the view holds an input block;
# at most 100 blocks; private_metadata at most 3000 characters; callback_id at most 255.
VIEW_BUTTON_MAX = 24
VIEW_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
# docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks in each message, and 100 blocks in
# modals or Home tabs") and docs.slack.dev/reference/methods/chat.postMessage (`blocks`).
MESSAGE_BLOCKS_MAX = 50

# --- Composition objects -----------------------------------------------------------------
# docs.slack.dev/reference/block-kit/composition-objects/text-object: at least 1 and at most 3000
# characters; `emoji` belongs to plain_text only, `verbatim` to mrkdwn only.
TEXT_MAX = 3000
# docs.slack.dev/reference/block-kit/composition-objects/option-object: text and description at most
# 75 characters, value at most 150; selects and overflow menus take plain_text option text only, the
# description is plain_text. (node-slack-sdk's types still say 75 for the value; the page's 150
# is taken, and the app's option values are far shorter either way.)
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
# docs.slack.dev/reference/block-kit/composition-objects/option-group-object: label at most 75, at
# most 100 options in a group (the option text and select limits below, not new numbers).

# docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object: title, text,
# confirm and deny are all plain_text; title at most 100, text at most 300, confirm and deny at most
# 30 characters.
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30

# --- Blocks --------------------------------------------------------------------------------
# docs.slack.dev/reference/block-kit/blocks: block_id at most 255 characters, unique in a message or
# view.
BLOCK_ID_MAX = 255
# docs.slack.dev/reference/block-kit/blocks/section-block: text 1-3000 characters; or fields, at
# most 10, each at most 2000 characters; one of the two is required.
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_MAX = 2000
# docs.slack.dev/reference/block-kit/blocks/header-block: plain_text, at most 150 characters.
HEADER_TEXT_MAX = 150
# docs.slack.dev/reference/block-kit/blocks/context-block: 1 to 10 elements (text objects or
# images).
CONTEXT_ELEMENTS_MAX = 10
# docs.slack.dev/reference/block-kit/blocks/actions-block: 1 to 25 elements.
ACTIONS_ELEMENTS_MAX = 25
# docs.slack.dev/reference/block-kit/blocks/input-block: label and hint plain_text, at most 2000
# each; one element.
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000
# docs.slack.dev/reference/block-kit/blocks/rich-text-block: elements are sections, lists, quotes
# and preformatted blocks of inline elements (text, link, emoji, user, channel, ...).
RICH_TEXT_BLOCKS = {
    "rich_text_section",
    "rich_text_list",
    "rich_text_preformatted",
    "rich_text_quote",
}
RICH_TEXT_INLINE = {
    "text",
    "link",
    "emoji",
    "user",
    "channel",
    "usergroup",
    "team",
    "broadcast",
    "date",
    "color",
}
RICH_TEXT_STYLES = {"bold", "italic", "strike", "code", "underline"}
# docs.slack.dev/reference/block-kit/blocks/image-block and .../block-elements/image-element.
IMAGE_URL_MAX = 3000
IMAGE_ALT_MAX = 2000

# --- Block elements ------------------------------------------------------------------------
# docs.slack.dev/reference/block-kit/block-elements (every interactive element): action_id at most
# 255 characters, unique among the action_ids of its block.
ACTION_ID_MAX = 255
# docs.slack.dev/reference/block-kit/block-elements/button-element: text plain_text at most 75,
# value at most 2000, url at most 3000 characters; style primary or danger.
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
# docs.slack.dev/reference/block-kit/block-elements/select-menu-element (static select): at most 100
# options or 100 option groups; initial_option exactly one of them; placeholder plain_text at
# most 150 characters (the same for every element with a placeholder).
SELECT_OPTIONS_MAX = 100
PLACEHOLDER_MAX = 150
# docs.slack.dev/reference/block-kit/block-elements/checkboxes-element and
# .../radio-button-group-element: 1 to 10 options; initial_option(s) exactly among them.
CHOICE_OPTIONS_MAX = 10
# docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element: min_length
# at most 3000. The page gives max_length no number; the input holds at most 3000 characters
# (the same ceiling), so max_length is 1-3000 and not below min_length, and an initial_value
# must fit within it.
INPUT_LENGTH_MAX = 3000


def pointer(*parts: object) -> str:
    return "/" + "/".join(str(part) for part in parts)


class Check:
    """Walks one payload and collects Slack's `[ERROR] ...` lines for what breaks a rule."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._block_ids: set[str] = set()

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"[ERROR] {what} [json-pointer:{where}]")

    # --- plain values ------------------------------------------------------------------
    def string(
        self, value: Any, where: str, maximum: int | None = None, *, required: bool = True
    ) -> None:
        if value is None and not required:
            return
        if not isinstance(value, str):
            self.fail(where, "must be a string")
        elif not value and required:
            self.fail(where, "must be more than 0 characters")
        elif maximum is not None and len(value) > maximum:
            self.fail(where, f"must be less than {maximum + 1} characters")

    def text(self, obj: Any, where: str, maximum: int = TEXT_MAX, *, plain: bool = False) -> None:
        """A text object: plain_text or mrkdwn, never empty."""
        if not isinstance(obj, dict):
            self.fail(where, "must be a text object")
            return
        kind = obj.get("type")
        if plain and kind != "plain_text":
            self.fail(f"{where}/type", "must be plain_text")
        elif kind not in ("plain_text", "mrkdwn"):
            self.fail(f"{where}/type", "must be plain_text or mrkdwn")
        allowed = (
            {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}
        )
        for key in set(obj) - allowed:
            self.fail(f"{where}/{key}", f"is not allowed in a {kind} text object")
        self.string(obj.get("text"), f"{where}/text", min(maximum, TEXT_MAX))

    def optional_text(self, obj: Any, where: str, maximum: int, *, plain: bool = False) -> None:
        if obj is not None:
            self.text(obj, where, maximum, plain=plain)

    def items(
        self, value: Any, where: str, maximum: int | None = None, *, minimum: int = 1
    ) -> list:
        """A list of at least `minimum` and at most `maximum` items."""
        if not isinstance(value, list):
            self.fail(where, "must be an array")
            return []
        if len(value) < minimum:
            self.fail(where, f"must provide at least {minimum} items")
        if maximum is not None and len(value) > maximum:
            self.fail(where, f"must provide at most {maximum} items")
        return value

    # --- surfaces ------------------------------------------------------------------------
    def view(self, view: Any, where: str, kinds: tuple[str, ...]) -> None:
        if not isinstance(view, dict):
            self.fail(where, "must be a view object")
            return
        kind = view.get("type")
        if kind not in kinds:
            self.fail(f"{where}/type", f"must be one of {', '.join(kinds)}")
        blocks = self.items(view.get("blocks"), f"{where}/blocks", VIEW_BLOCKS_MAX, minimum=0)
        self.blocks(blocks, f"{where}/blocks")
        self.string(
            view.get("private_metadata"),
            f"{where}/private_metadata",
            PRIVATE_METADATA_MAX,
            required=False,
        )
        self.string(
            view.get("callback_id"), f"{where}/callback_id", CALLBACK_ID_MAX, required=False
        )
        if kind == "modal":
            self.text(view.get("title"), f"{where}/title", VIEW_BUTTON_MAX, plain=True)
            for part in ("submit", "close"):
                self.optional_text(view.get(part), f"{where}/{part}", VIEW_BUTTON_MAX, plain=True)
            has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
            if has_input and view.get("submit") is None:
                self.fail(f"{where}/submit", "is required when the view has an input block")

    def message(self, message: Any, where: str = "") -> None:
        """chat.postMessage, chat.postEphemeral, chat.update and response_url bodies."""
        if not isinstance(message, dict):
            self.fail(where or "/", "must be a message object")
            return
        blocks = message.get("blocks")
        if isinstance(blocks, str):  # form-encoded calls carry blocks as a JSON string
            try:
                blocks = json.loads(blocks)
            except ValueError:
                self.fail(f"{where}/blocks", "must be valid JSON")
                return
        # docs.slack.dev/reference/methods/chat.postMessage: with blocks, `text` becomes optional
        # but is the fallback that notifications and screen readers show, and Slack warns when it
        # is missing; this fake requires it (stricter than Slack, as the app always sends one).
        # Long text is truncated, not refused: no maximum here. A deleting post needs none.
        if not message.get("delete_original"):
            self.string(message.get("text"), f"{where}/text")
        if blocks is not None:
            blocks = self.items(blocks, f"{where}/blocks", MESSAGE_BLOCKS_MAX, minimum=0)
            self.blocks(blocks, f"{where}/blocks")

    # --- blocks --------------------------------------------------------------------------
    def blocks(self, blocks: list, where: str) -> None:
        for n, block in enumerate(blocks):
            self.block(block, f"{where}/{n}")

    def block(self, block: Any, where: str) -> None:
        if not isinstance(block, dict):
            self.fail(where, "must be a block object")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.string(block_id, f"{where}/block_id", BLOCK_ID_MAX)
            if block_id in self._block_ids:
                self.fail(f"{where}/block_id", f"duplicate block_id {block_id!r}")
            self._block_ids.add(block_id)
        kind = block.get("type")
        if kind == "section":
            self.section(block, where)
        elif kind == "header":
            self.text(block.get("text"), f"{where}/text", HEADER_TEXT_MAX, plain=True)
        elif kind == "context":
            elements = self.items(block.get("elements"), f"{where}/elements", CONTEXT_ELEMENTS_MAX)
            for n, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") == "image":
                    self.image(element, f"{where}/elements/{n}")
                else:
                    self.text(element, f"{where}/elements/{n}")
        elif kind == "actions":
            elements = self.items(block.get("elements"), f"{where}/elements", ACTIONS_ELEMENTS_MAX)
            self.unique_action_ids(elements, f"{where}/elements")
            for n, element in enumerate(elements):
                self.element(element, f"{where}/elements/{n}")
        elif kind == "input":
            self.text(block.get("label"), f"{where}/label", INPUT_LABEL_MAX, plain=True)
            self.optional_text(block.get("hint"), f"{where}/hint", INPUT_HINT_MAX, plain=True)
            self.element(block.get("element"), f"{where}/element")
        elif kind == "rich_text":
            self.rich_text(block, where)
        elif kind == "image":
            self.image(block, where)
        elif kind != "divider":
            self.fail(f"{where}/type", f"unknown block type {kind!r}")

    def section(self, block: dict, where: str) -> None:
        if block.get("text") is None and block.get("fields") is None:
            self.fail(where, "a section needs text or fields")
        self.optional_text(block.get("text"), f"{where}/text", SECTION_TEXT_MAX)
        if block.get("fields") is not None:
            fields = self.items(block["fields"], f"{where}/fields", SECTION_FIELDS_MAX)
            for n, item in enumerate(fields):
                self.text(item, f"{where}/fields/{n}", SECTION_FIELD_MAX)
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{where}/accessory")

    def rich_text(self, block: dict, where: str) -> None:
        parts = self.items(block.get("elements"), f"{where}/elements")
        for n, part in enumerate(parts):
            at = f"{where}/elements/{n}"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in RICH_TEXT_BLOCKS:
                self.fail(f"{at}/type", f"unknown rich text element {kind!r}")
                continue
            if kind == "rich_text_list":
                if part.get("style") not in ("bullet", "ordered"):
                    self.fail(f"{at}/style", "must be bullet or ordered")
                for m, item in enumerate(self.items(part.get("elements"), f"{at}/elements")):
                    if not isinstance(item, dict) or item.get("type") != "rich_text_section":
                        self.fail(f"{at}/elements/{m}/type", "must be rich_text_section")
                    else:
                        self.inline(item.get("elements"), f"{at}/elements/{m}/elements")
            else:
                self.inline(part.get("elements"), f"{at}/elements")

    def inline(self, elements: Any, where: str) -> None:
        for n, element in enumerate(self.items(elements, where)):
            at = f"{where}/{n}"
            kind = element.get("type") if isinstance(element, dict) else None
            if kind not in RICH_TEXT_INLINE:
                self.fail(f"{at}/type", f"unknown rich text inline element {kind!r}")
                continue
            if kind == "text":
                self.string(element.get("text"), f"{at}/text")
            elif kind == "link":
                self.string(element.get("url"), f"{at}/url", BUTTON_URL_MAX)
                self.string(element.get("text"), f"{at}/text", required=False)
            style = element.get("style")
            if style is not None and (not isinstance(style, dict) or set(style) - RICH_TEXT_STYLES):
                self.fail(f"{at}/style", "unknown style")

    def image(self, image: dict, where: str) -> None:
        self.string(image.get("image_url"), f"{where}/image_url", IMAGE_URL_MAX)
        self.string(image.get("alt_text"), f"{where}/alt_text", IMAGE_ALT_MAX)

    # --- elements ------------------------------------------------------------------------
    def unique_action_ids(self, elements: list, where: str) -> None:
        seen: set[str] = set()
        for n, element in enumerate(elements):
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is None:
                continue
            if action_id in seen:
                self.fail(f"{where}/{n}/action_id", f"duplicate action_id {action_id!r}")
            seen.add(action_id)

    def element(self, element: Any, where: str) -> None:
        if not isinstance(element, dict):
            self.fail(where, "must be an element object")
            return
        self.string(element.get("action_id"), f"{where}/action_id", ACTION_ID_MAX, required=False)
        self.optional_text(
            element.get("placeholder"), f"{where}/placeholder", PLACEHOLDER_MAX, plain=True
        )
        if element.get("confirm") is not None:
            self.confirm(element["confirm"], f"{where}/confirm")
        kind = element.get("type")
        if kind == "button":
            self.text(element.get("text"), f"{where}/text", BUTTON_TEXT_MAX, plain=True)
            self.string(element.get("value"), f"{where}/value", BUTTON_VALUE_MAX, required=False)
            self.string(element.get("url"), f"{where}/url", BUTTON_URL_MAX, required=False)
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{where}/style", "must be primary or danger")
        elif kind == "static_select":
            self.static_select(element, where)
        elif kind in ("checkboxes", "radio_buttons"):
            options = self.items(element.get("options"), f"{where}/options", CHOICE_OPTIONS_MAX)
            self.options(options, f"{where}/options", plain=False)
            self.initial(element, options, where)
        elif kind == "plain_text_input":
            self.plain_text_input(element, where)
        elif kind == "image":
            self.image(element, where)
        elif kind not in ("users_select", "conversations_select", "channels_select"):
            self.fail(f"{where}/type", f"unknown element type {kind!r}")

    def static_select(self, element: dict, where: str) -> None:
        if element.get("option_groups") is not None:
            groups = self.items(
                element["option_groups"], f"{where}/option_groups", SELECT_OPTIONS_MAX
            )
            options = []
            for n, group in enumerate(groups):
                at = f"{where}/option_groups/{n}"
                self.text(group.get("label"), f"{at}/label", OPTION_TEXT_MAX, plain=True)
                grouped = self.items(group.get("options"), f"{at}/options", SELECT_OPTIONS_MAX)
                self.options(grouped, f"{at}/options", plain=True)
                options.extend(grouped)
        else:
            options = self.items(element.get("options"), f"{where}/options", SELECT_OPTIONS_MAX)
            self.options(options, f"{where}/options", plain=True)
        self.initial(element, options, where)

    def options(self, options: list, where: str, *, plain: bool) -> None:
        for n, option in enumerate(options):
            at = f"{where}/{n}"
            if not isinstance(option, dict):
                self.fail(at, "must be an option object")
                continue
            self.text(option.get("text"), f"{at}/text", OPTION_TEXT_MAX, plain=plain)
            self.string(option.get("value"), f"{at}/value", OPTION_VALUE_MAX)
            self.optional_text(
                option.get("description"), f"{at}/description", OPTION_TEXT_MAX, plain=True
            )

    def initial(self, element: dict, options: list, where: str) -> None:
        """initial_option and initial_options must exactly match offered options."""
        chosen = element.get("initial_option")
        if chosen is not None and chosen not in options:
            self.fail(f"{where}/initial_option", "must exactly match one of the options")
        for n, option in enumerate(element.get("initial_options") or []):
            if option not in options:
                self.fail(f"{where}/initial_options/{n}", "must exactly match one of the options")

    def plain_text_input(self, element: dict, where: str) -> None:
        low, high = element.get("min_length"), element.get("max_length")
        if low is not None and not (isinstance(low, int) and 0 <= low <= INPUT_LENGTH_MAX):
            self.fail(f"{where}/min_length", f"must be between 0 and {INPUT_LENGTH_MAX}")
        if high is not None and not (isinstance(high, int) and 1 <= high <= INPUT_LENGTH_MAX):
            self.fail(f"{where}/max_length", f"must be between 1 and {INPUT_LENGTH_MAX}")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.fail(f"{where}/min_length", "must not be more than max_length")
        ceiling = high if isinstance(high, int) else INPUT_LENGTH_MAX
        initial = element.get("initial_value")
        if initial is not None:
            if not isinstance(initial, str):
                self.fail(f"{where}/initial_value", "must be a string")
            elif len(initial) > ceiling:
                self.fail(f"{where}/initial_value", f"must be less than {ceiling + 1} characters")

    def confirm(self, confirm: Any, where: str) -> None:
        if not isinstance(confirm, dict):
            self.fail(where, "must be a confirmation dialog object")
            return
        self.text(confirm.get("title"), f"{where}/title", CONFIRM_TITLE_MAX, plain=True)
        self.text(confirm.get("text"), f"{where}/text", CONFIRM_TEXT_MAX, plain=True)
        self.text(confirm.get("confirm"), f"{where}/confirm", CONFIRM_BUTTON_MAX, plain=True)
        self.text(confirm.get("deny"), f"{where}/deny", CONFIRM_BUTTON_MAX, plain=True)


def check_view(view: Any, kinds: tuple[str, ...] = ("modal",), where: str = "/view") -> list[str]:
    check = Check()
    check.view(view, where, kinds)
    return check.problems


def check_message(message: Any) -> list[str]:
    check = Check()
    check.message(message)
    return check.problems


def _loaded(value: Any) -> Any:
    """A view or blocks sent form-encoded arrive as JSON strings."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# docs.slack.dev/reference/methods/<method>: which surface each method carries.
VIEW_KINDS = {
    "views.open": ("modal",),
    "views.push": ("modal",),
    "views.update": ("modal", "home"),
    "views.publish": ("home",),
}
REQUIRED_ARGUMENTS = {
    "chat.postMessage": ("channel",),
    "chat.postEphemeral": ("channel", "user"),
    "chat.update": ("channel", "ts"),
    # docs.slack.dev/reference/methods/views.open, views.push, views.update, views.publish
    "views.open": ("trigger_id",),
    "views.push": ("trigger_id",),
    "views.publish": ("user_id",),
    # docs.slack.dev/reference/methods/users.lookupByEmail
    "users.lookupByEmail": ("email",),
}


MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")


def check_call(method: str, params: dict) -> list[str]:
    """The problems Slack would refuse this call for; [] when it would accept."""
    check = Check()
    for name in REQUIRED_ARGUMENTS.get(method, ()):
        if not params.get(name):
            check.fail(pointer(name), "is required")
    if method == "views.update" and not (params.get("view_id") or params.get("external_id")):
        check.fail(pointer("view_id"), "view_id or external_id is required")
    if method in VIEW_KINDS:
        return check.problems + check_view(_loaded(params.get("view")), VIEW_KINDS[method])
    if method in MESSAGE_METHODS:
        check.message(params)
    return check.problems


def check_ack(answer: Any) -> list[str]:
    """An acknowledgement's body that Slack shows: a view (response_action update or push) or
    an ephemeral message (a command's or an action's answer)."""
    if not isinstance(answer, dict):
        return []
    action = answer.get("response_action")
    if action in ("update", "push"):
        return check_view(answer.get("view"), ("modal",))
    if action == "errors":
        errors = answer.get("errors")
        # docs.slack.dev/reference/interaction-payloads/view-interactions-payload (response_action
        # errors): a map from block_id to the message shown under that input.
        if not isinstance(errors, dict) or not all(
            isinstance(key, str) and isinstance(value, str) and value
            for key, value in errors.items()
        ):
            return ["[ERROR] errors must map block_ids to messages [json-pointer:/errors]"]
        return []
    if action is not None:
        return [] if action == "clear" else ["[ERROR] unknown response_action"]
    if "text" in answer or "blocks" in answer:
        return check_message(answer)
    return []


# The bot scopes the app asks for (manifest.yml, handlers/install.py BOT_SCOPES).
FULL_SCOPES = "commands,chat:write,users:read,users:read.email"
# The scope a method needs, from each method's reference page ("Required scopes"): without
# it Slack answers missing_scope. An install made before the app asked for a scope lacks it
# until it is reinstalled.
NEEDED_SCOPES = {
    # docs.slack.dev/reference/methods/chat.postMessage
    "chat.postMessage": "chat:write",
    # docs.slack.dev/reference/methods/chat.postEphemeral
    "chat.postEphemeral": "chat:write",
    # docs.slack.dev/reference/methods/users.info
    "users.info": "users:read",
    # docs.slack.dev/reference/methods/users.lookupByEmail
    "users.lookupByEmail": "users:read.email",
}
