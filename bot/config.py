"""Settings from environment variables.

Everything the process is told comes through `Settings.from_env`, once, at start-up, so a
bad value stops the app with one line naming the variable instead of failing later in the
middle of someone's request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """A setting has a value the app cannot run with; the message names the variable."""


def parse_duration(text: str) -> int:
    """Seconds from `90`, `90s`, `5m`, `1h` or `7d`; raises ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(text)
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact human form: 300 -> '5 minutes', 86400 -> '1 day'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _duration(env: Mapping[str, str], name: str, default: str) -> int:
    raw = env.get(name) or default
    try:
        return parse_duration(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a duration; use a positive number with s, m, h or d "
            "(e.g. 5m, 1h, 7d)"
        ) from None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name}={raw!r} must be a whole number from {low} to {high}")
    return int(raw)


_SIZE = re.compile(r"^\s*(\d+)\s*(|B|KiB|MiB|GiB)\s*$")
_UNIT_BYTES = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
MAX_FILE_SIZE_CEILING = 1024**3  # a record is one value in Redis, which caps those at 512 MiB


def _size(env: Mapping[str, str], name: str, default: str) -> int:
    raw = env.get(name) or default
    match = _SIZE.match(raw)
    size = int(match.group(1)) * _UNIT_BYTES[match.group(2)] if match else 0
    if not 0 < size <= MAX_FILE_SIZE_CEILING // 4:
        raise ConfigError(
            f"{name}={raw!r} must be a size in bytes, KiB or MiB (e.g. 10MiB), from 1 byte "
            "to 256MiB"
        )
    return size


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or ("on" if default else "off")).strip().lower()
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name}={raw!r} must be on or off")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in allowed:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(allowed)}")
    return raw


def _encryption_key(env: Mapping[str, str]) -> bytes | None:
    raw = (env.get("TOKEN_ENCRYPTION_KEY") or "").strip()
    if not raw:
        if env.get("SLACK_CLIENT_ID") and env.get("SLACK_CLIENT_SECRET"):
            raise ConfigError(
                "TOKEN_ENCRYPTION_KEY is needed with SLACK_CLIENT_ID: 32 random bytes in "
                "base64, e.g. from: python3 -c 'import os,base64;print(base64.b64encode("
                "os.urandom(32)).decode())'"
            )
        return None
    return _key_of_32_bytes("TOKEN_ENCRYPTION_KEY", raw)


def _key_of_32_bytes(name: str, raw: str) -> bytes:
    """A key given in base64 (standard or URL-safe, padded or not), exactly 32 bytes."""
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{name} must be 32 random bytes in base64")
    return key


def _binding_key(env: Mapping[str, str]) -> bytes | None:
    """The server's part of the proof of a secret bound to one person (bot/crypto.py).

    BINDING_KEY when set; else derived from SLACK_SIGNING_SECRET, which every HTTP set-up
    has (changing that secret then strands the bound secrets still waiting). Socket Mode
    without a signing secret must set BINDING_KEY."""
    raw = (env.get("BINDING_KEY") or "").strip()
    if raw:
        return _key_of_32_bytes("BINDING_KEY", raw)
    signing_secret = (env.get("SLACK_SIGNING_SECRET") or "").strip()
    if signing_secret:
        return hmac.new(signing_secret.encode(), b"oncelink/v1/binding-key", "sha256").digest()
    if env.get("SLACK_APP_TOKEN") and env.get("SLACK_BOT_TOKEN"):
        raise ConfigError(
            "BINDING_KEY is needed with SLACK_APP_TOKEN when SLACK_SIGNING_SECRET is not set: "
            "32 random bytes in base64, e.g. from: python3 -c 'import os,base64;print("
            "base64.b64encode(os.urandom(32)).decode())'"
        )
    return None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or default).strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r} must be an http(s) URL like https://secrets.example.com")
    return raw


MAX_TTL_CHOICES = 100  # the form offers them in one static_select, which takes 100 options
DEFAULT_TTL_CHOICES = "5m,1h,1d,7d"


def _ttl_choices(env: Mapping[str, str], max_ttl: int, default_ttl: int) -> tuple[int, ...]:
    """The expiry options of the form, sorted, each a positive duration up to MAX_TTL, with
    DEFAULT_TTL among them (the form preselects it, and `/secret <text>` uses it: a default
    the form cannot show would make the two disagree).

    Left unset, the built-in choices are trimmed to MAX_TTL and DEFAULT_TTL is added, so
    setting DEFAULT_TTL or MAX_TTL alone keeps working; set, they are taken as written."""
    raw = (env.get("TTL_CHOICES") or "").strip()
    given = bool(raw)
    try:
        parsed = {parse_duration(part) for part in (raw or DEFAULT_TTL_CHOICES).split(",")}
    except ValueError:
        raise ConfigError(
            f"TTL_CHOICES={raw!r} must be durations separated by commas, e.g. 5m,1h,1d,7d"
        ) from None
    if not given:
        return tuple(sorted({ttl for ttl in parsed if ttl <= max_ttl} | {default_ttl}))
    if len(parsed) > MAX_TTL_CHOICES:
        raise ConfigError(
            f"TTL_CHOICES has {len(parsed)} different durations; the form can offer at most "
            f"{MAX_TTL_CHOICES}"
        )
    too_long = sorted(ttl for ttl in parsed if ttl > max_ttl)
    if too_long:
        raise ConfigError(
            f"TTL_CHOICES={raw!r} offers {format_duration(too_long[0])}, longer than MAX_TTL "
            f"({format_duration(max_ttl)}); drop it or raise MAX_TTL"
        )
    if default_ttl not in parsed:
        raise ConfigError(
            f"DEFAULT_TTL={env.get('DEFAULT_TTL') or '1d'!r} is not one of "
            f"TTL_CHOICES={raw!r}; add it there or choose one of them"
        )
    return tuple(sorted(parsed))


def redact_url(url: str | None) -> str | None:
    """The URL with its user name and password, and a `password=` query value, replaced by
    `***`: a REDIS_URL carries Redis's password, and settings are rendered in logs."""
    if not url:
        return url
    parts = urlsplit(url)
    # A sentinel URL lists several hosts, so the credentials are cut off by hand: everything
    # before the last "@" of the network location.
    credentials, at, hosts = parts.netloc.rpartition("@")
    if at and credentials:
        url = url.replace(parts.netloc, f"***@{hosts}", 1)
    head, mark, query = url.partition("?")
    return head + mark + _QUERY_PASSWORD.sub(r"\1***", query)


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True)
class Limit:
    """At most `count` actions per `window` seconds; a count of 0 switches it off."""

    count: int
    window: int


def _limit(env: Mapping[str, str], name: str, default: str) -> Limit:
    raw = (env.get(name) or default).strip().lower()
    if raw in ("0", "off"):
        return Limit(0, 60)
    count, _, window = raw.partition("/")
    try:
        if not count.isdigit() or int(count) <= 0:
            raise ValueError(raw)
        return Limit(int(count), parse_duration(window))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} must be a count per duration like 120/1m, or off"
        ) from None


ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(env: Mapping[str, str], name: str) -> tuple[ProxyNetwork, ...]:
    raw = env.get(name) or ""
    networks = []
    for part in raw.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name}={raw!r} must be IP addresses or CIDR ranges separated by commas, "
                    "e.g. 10.0.0.0/8,192.0.2.7"
                ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    """Every knob of the app. Frozen: read once, passed down, never changed behind a back."""

    public_url: str = "http://localhost:3000"
    host: str = "0.0.0.0"  # noqa: S104 - a server is meant to listen on all interfaces
    port: int = 3000
    redis_url: str | None = None
    sqlite_path: str = "./oncelink.sqlite3"
    default_ttl: int = 86400
    max_ttl: int = 7 * 86400
    ttl_choices: tuple[int, ...] = (300, 3600, 86400, 7 * 86400)
    log_level: str = "INFO"
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)  # xapp-…: Socket Mode
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    token_encryption_key: bytes | None = field(default=None, repr=False)
    binding_key: bytes | None = field(default=None, repr=False)  # see _binding_key
    slack_api_url: str = DEFAULT_SLACK_API_URL
    receipts: bool = True
    rate_limit_create: Limit = Limit(120, 60)
    rate_limit_reveal: Limit = Limit(120, 60)
    trusted_proxy_depth: int = 0
    trusted_proxies: tuple[ProxyNetwork, ...] = ()  # X-Forwarded-For counts only from these
    metrics: str = "off"  # off | on (own port) | public (also /metrics on the main port)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    log_format: str = "text"
    max_file_size: int = 10 * 1024 * 1024  # one file written in the browser, before sealing

    def __repr__(self) -> str:
        """Every field the dataclass would show, with REDIS_URL's credentials redacted
        (the other credentials are left out whole, by repr=False). str() is this too."""
        shown = []
        for item in fields(self):
            if item.repr:
                value = getattr(self, item.name)
                if item.name == "redis_url":
                    value = redact_url(value)
                shown.append(f"{item.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def slack_configured(self) -> bool:
        """Tokens (one bot token, or OAuth installs), and a way for Slack's requests to
        arrive: signed HTTP or Socket Mode."""
        if self.oauth_enabled:
            return bool(self.slack_signing_secret)
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def oauth_enabled(self) -> bool:
        """Many workspaces: installed through Slack's OAuth flow instead of one bot token."""
        return bool(self.slack_client_id and self.slack_client_secret and not self.slack_bot_token)

    @property
    def expiry_choices(self) -> tuple[int, ...]:
        """The expiry options offered to users: configured ones, never above MAX_TTL."""
        allowed = tuple(ttl for ttl in self.ttl_choices if ttl <= self.max_ttl)
        return allowed or (self.max_ttl,)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        public_url = _url(env, "PUBLIC_URL", "http://localhost:3000").rstrip("/")
        max_ttl = _duration(env, "MAX_TTL", "7d")
        default_ttl = _duration(env, "DEFAULT_TTL", "1d")
        if default_ttl > max_ttl:
            raise ConfigError(
                f"DEFAULT_TTL={env.get('DEFAULT_TTL', '1d')!r} is longer than MAX_TTL "
                f"({format_duration(max_ttl)}); make it shorter or raise MAX_TTL"
            )
        choices = _ttl_choices(env, max_ttl, default_ttl)
        log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        redis_url = (env.get("REDIS_URL") or "").strip() or None
        redis_schemes = (
            "redis", "rediss", "unix", "redis+cluster", "rediss+cluster",
            "redis+sentinel", "rediss+sentinel",
        )  # fmt: skip
        if redis_url and urlsplit(redis_url).scheme not in redis_schemes:
            raise ConfigError(
                "REDIS_URL must start with redis://, rediss://, unix://, redis+cluster:// "
                f"or redis+sentinel:// (got scheme {urlsplit(redis_url).scheme!r})"
            )
        return cls(
            public_url=public_url,
            host=(env.get("HOST") or "0.0.0.0").strip(),  # noqa: S104
            port=_int(env, "PORT", 3000, 1, 65535),
            redis_url=redis_url,
            sqlite_path=(env.get("SQLITE_PATH") or "./oncelink.sqlite3").strip(),
            default_ttl=default_ttl,
            max_ttl=max_ttl,
            ttl_choices=choices,
            log_level=log_level,
            slack_signing_secret=(env.get("SLACK_SIGNING_SECRET") or "").strip() or None,
            slack_bot_token=(env.get("SLACK_BOT_TOKEN") or "").strip() or None,
            slack_app_token=(env.get("SLACK_APP_TOKEN") or "").strip() or None,
            slack_client_id=(env.get("SLACK_CLIENT_ID") or "").strip() or None,
            slack_client_secret=(env.get("SLACK_CLIENT_SECRET") or "").strip() or None,
            token_encryption_key=_encryption_key(env),
            binding_key=_binding_key(env),
            slack_api_url=_url(env, "SLACK_API_URL", DEFAULT_SLACK_API_URL).rstrip("/") + "/",
            receipts=_switch(env, "RECEIPTS", True),
            rate_limit_create=_limit(env, "RATE_LIMIT_CREATE", "120/1m"),
            rate_limit_reveal=_limit(env, "RATE_LIMIT_REVEAL", "120/1m"),
            trusted_proxy_depth=_int(env, "TRUSTED_PROXY_DEPTH", 0, 0, 10),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            metrics=_choice(env, "METRICS", "off", ("off", "on", "public")),
            metrics_host=(env.get("METRICS_HOST") or "127.0.0.1").strip(),
            metrics_port=_int(env, "METRICS_PORT", 9464, 1, 65535),
            log_format=_choice(env, "LOG_FORMAT", "text", ("text", "json")),
            max_file_size=_size(env, "MAX_FILE_SIZE", "10MiB"),
        )
