"""manifest.yml creates the whole app in one paste: within Slack's limits, in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from handlers import blocks
from handlers.share import COMMAND

MANIFEST = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text("utf-8"))
EVENTS_URL = "https://secrets.example.com/slack/events"


def test_display_information_is_within_slack_limits():
    info = MANIFEST["display_information"]
    assert 0 < len(info["name"]) <= 35
    assert 0 < len(info["description"]) <= 140
    assert 174 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", info["background_color"])


def test_bot_user_and_app_home_messages_tab_for_receipts():
    features = MANIFEST["features"]
    assert re.fullmatch(r"[a-z0-9._-]{1,80}", features["bot_user"]["display_name"])
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True  # "my secrets" and settings


def test_slash_command_matches_the_code_and_limits():
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == COMMAND == "/secret"
    assert len(command["command"]) <= 32
    assert 0 < len(command["description"]) <= 2000
    assert 0 < len(command["usage_hint"]) <= 1000
    assert command["url"] == EVENTS_URL


def test_message_shortcut_matches_the_code_and_limits():
    (shortcut,) = MANIFEST["features"]["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == blocks.SHORTCUT_CALLBACK
    assert len(shortcut["callback_id"]) <= 255
    assert shortcut["name"] == "Share as one-time secret" and len(shortcut["name"]) <= 24
    assert 0 < len(shortcut["description"]) <= 150


def test_interactivity_points_at_the_one_events_url():
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == EVENTS_URL


@pytest.mark.parametrize("scope", ["commands", "chat:write", "users:read"])
def test_minimal_bot_scopes(scope):
    assert scope in MANIFEST["oauth_config"]["scopes"]["bot"]


def test_no_scope_beyond_what_the_code_uses():
    from handlers.install import BOT_SCOPES

    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "users:read",
        "users:read.email",
    }
    assert sorted(BOT_SCOPES) == sorted(MANIFEST["oauth_config"]["scopes"]["bot"])
    # The fake grants a new install what the app asks for, and refuses a method whose
    # scope the app does not ask for at all.
    from tests.slack_rules import FULL_SCOPES, NEEDED_SCOPES

    assert sorted(FULL_SCOPES.split(",")) == sorted(BOT_SCOPES)
    assert set(NEEDED_SCOPES.values()) <= set(BOT_SCOPES)


def test_uninstall_events_reach_the_events_url():
    events = MANIFEST["settings"]["event_subscriptions"]
    assert events["request_url"] == EVENTS_URL
    assert set(events["bot_events"]) == {
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
        "team_access_revoked",
    }


def test_oauth_redirect_url_matches_the_route():
    from handlers.install import REDIRECT_PATH

    assert MANIFEST["oauth_config"]["redirect_urls"] == [
        "https://secrets.example.com" + REDIRECT_PATH
    ]


def test_org_wide_installs_are_offered_because_the_code_handles_them():
    """Slack offers an org-wide install only to apps with org_deploy_enabled; the installation
    store finds such an install from any workspace of the org (tests/test_oauth.py)."""
    from handlers.installations import StoreInstallationStore

    assert MANIFEST["settings"]["org_deploy_enabled"] is True
    assert hasattr(StoreInstallationStore, "find_bot_for_team")
