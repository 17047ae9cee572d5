"""My secrets: `/secret list` and the App Home tab, with Burn now; and, for workspace admins,
the workspace's defaults (expiry and receipts) on the same tab."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import NotCreator, SecretGone, StoreUnavailable
from bot.service import SecretService
from handlers import home_blocks
from handlers.background import AfterAck
from handlers.blocks import notice
from handlers.delivery import Delivery
from handlers.messages import for_error
from handlers.payloads import actor, address, text, workspace_of
from handlers.share import Subcommands
from handlers.sharing import creator_of
from handlers.workspace import Prefs, Workspaces, is_admin


async def send_list(command: dict, service: SecretService, delivery: Delivery) -> None:
    """`/secret list`, after its ack: the caller's secrets, where they asked."""
    scope, user_id = actor(command)
    try:
        message = home_blocks.list_message(await service.my_secrets(creator_of(scope, user_id)))
    except StoreUnavailable as exc:
        message = notice(for_error(exc))
    await delivery.to_person(text(command, "response_url"), user_id, message, address(command))


# What another feature shows admins on the Home tab, given the workspace (API tokens).
AdminSection = Callable[[str], Awaitable[list[dict]]]


@dataclass
class Home:
    """What other features add to the Home tab, and how they redraw it after a change."""

    publish: Callable[[AsyncWebClient, dict], Awaitable[None]]
    admin_sections: list[AdminSection] = field(default_factory=list)


def register(
    app: AsyncApp,
    service: SecretService,
    settings: Settings,
    delivery: Delivery,
    after_ack: AfterAck,
    workspaces: Workspaces,
    subcommands: Subcommands,
) -> Home:
    async def list_command(ack: AsyncAck, command: dict, _client: AsyncWebClient, _: str) -> None:
        await ack()
        after_ack.run(send_list(command, service, delivery), command)

    subcommands.add("list", list_command, alone=True)

    async def publish_home(client: AsyncWebClient, body: dict) -> None:
        """The Home tab of the person behind `body`: their secrets (under their identity,
        the same as `/secret list`'s), and for admins the settings of the workspace the tab
        is in (the same key commands read them under: handlers.payloads.workspace_of)."""
        scope, user_id = actor(body)
        summaries = await service.my_secrets(creator_of(scope, user_id))
        admin_settings = None
        if await is_admin(client, user_id):
            prefs = await workspaces.prefs(workspace_of(body))
            admin_settings = home_blocks.settings_blocks(
                prefs, workspaces.apply(prefs), settings.expiry_choices
            )
            for section in home.admin_sections:
                admin_settings += await section(workspace_of(body))
        await client.views_publish(
            user_id=user_id, view=home_blocks.home_view(summaries, admin_settings)
        )

    home = Home(publish_home)

    @app.event("app_home_opened")
    async def home_opened(event: dict, body: dict, client: AsyncWebClient) -> None:
        if text(event, "tab") != "home":
            return
        scope, user_id = actor(body)
        if scope and user_id:
            after_ack.run(publish_home(client, body), body)

    async def burn_from_list(body: dict, action: dict, client: AsyncWebClient) -> None:
        scope, user_id = actor(body)
        try:
            await service.burn(text(action, "value"), creator_of(scope, user_id))
        except (NotCreator, SecretGone):
            pass  # the refreshed list shows what became of it
        except StoreUnavailable as exc:
            await delivery.respond(text(body, "response_url"), notice(for_error(exc)))
            return
        if text(body, "container", "type") == "view":  # the App Home tab
            await publish_home(client, body)
            return
        summaries = await service.my_secrets(creator_of(scope, user_id))
        await delivery.respond(
            text(body, "response_url"), home_blocks.list_message(summaries, replace_original=True)
        )

    app.action(home_blocks.LIST_BURN_ACTION)(after_ack.on_click(burn_from_list))

    async def change_prefs(body: dict, action: dict, client: AsyncWebClient) -> None:
        _, user_id = actor(body)
        if not await is_admin(client, user_id):
            return  # the controls are only shown to admins; anyone else changes nothing
        chosen = text(action, "selected_option", "value")
        workspace = workspace_of(body)
        if not workspace:
            return  # a payload that names no workspace: nothing to file the choice under
        prefs = await workspaces.prefs(workspace)
        action_id = text(action, "action_id")
        if action_id == home_blocks.PREF_RECEIPTS:
            prefs = Prefs(prefs.default_ttl, prefs.max_ttl, chosen == "on")
        elif chosen.isdigit() and int(chosen) in settings.expiry_choices:
            ttl = int(chosen)
            if action_id == home_blocks.PREF_DEFAULT_TTL:
                # A default longer than the maximum raises the maximum with it.
                longest = max(ttl, prefs.max_ttl or 0) if prefs.max_ttl else None
                prefs = Prefs(ttl, longest, prefs.receipts)
            else:
                default = min(prefs.default_ttl, ttl) if prefs.default_ttl else None
                prefs = Prefs(default, ttl, prefs.receipts)
        await workspaces.save(workspace, prefs)
        await publish_home(client, body)

    for action_id in (
        home_blocks.PREF_DEFAULT_TTL,
        home_blocks.PREF_MAX_TTL,
        home_blocks.PREF_RECEIPTS,
    ):
        app.action(action_id)(after_ack.on_click(change_prefs))
    return home
