"""Expiry settings that the form can show and that agree with each other, or a refusal at
start-up naming the variable."""

from __future__ import annotations

import pytest

from bot.config import MAX_TTL_CHOICES, ConfigError, Settings
from handlers.blocks import share_modal
from tests.test_cli import oncelink


def choices(**env: str) -> tuple[int, ...]:
    return Settings.from_env(env).ttl_choices


def test_the_built_in_choices_are_trimmed_to_max_ttl_and_include_the_default():
    assert choices() == (300, 3600, 86400, 7 * 86400)
    assert choices(MAX_TTL="1d") == (300, 3600, 86400)
    assert choices(DEFAULT_TTL="2h") == (300, 3600, 7200, 86400, 7 * 86400)
    assert choices(MAX_TTL="30m", DEFAULT_TTL="10m") == (300, 600)


def test_given_choices_are_sorted_and_deduplicated():
    assert choices(TTL_CHOICES="1d, 1h,60m,1d") == (3600, 86400)


def test_a_hundred_choices_fit_the_form_and_a_hundred_and_one_do_not():
    hundred = ",".join(f"{minutes}m" for minutes in range(1, MAX_TTL_CHOICES + 1))
    settings = Settings.from_env({"TTL_CHOICES": hundred, "DEFAULT_TTL": "1h"})
    assert len(settings.expiry_choices) == MAX_TTL_CHOICES
    modal = share_modal(
        expiry_choices=settings.expiry_choices,
        default_ttl=settings.default_ttl,
        private_metadata="{}",
    )
    select = modal["blocks"][1]["element"]
    assert len(select["options"]) == MAX_TTL_CHOICES
    assert select["initial_option"]["value"] == "3600"
    with pytest.raises(ConfigError, match="101 different durations"):
        Settings.from_env({"TTL_CHOICES": hundred + ",101m", "DEFAULT_TTL": "1h"})


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TTL_CHOICES": "1h,30d"}, "offers 30 days, longer than MAX_TTL (7 days)"),
        ({"TTL_CHOICES": "1h,0m"}, "TTL_CHOICES='1h,0m' must be durations"),
        ({"TTL_CHOICES": "1h,-5m"}, "must be durations"),
        ({"TTL_CHOICES": "5m,1h"}, "DEFAULT_TTL='1d' is not one of TTL_CHOICES='5m,1h'"),
        ({"TTL_CHOICES": "5m,1h", "DEFAULT_TTL": "2h"}, "DEFAULT_TTL='2h' is not one of"),
    ],
)
def test_choices_the_form_cannot_offer_are_refused(env, says):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert says in str(refused.value)


def test_serve_refuses_a_default_outside_the_choices_with_one_line(tmp_path):
    result = oncelink(
        "serve",
        SQLITE_PATH=str(tmp_path / "x.sqlite3"),
        REDIS_URL="",
        TTL_CHOICES="5m,1h",
        DEFAULT_TTL="2h",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DEFAULT_TTL='2h' is not one of TTL_CHOICES" in lines[0]
