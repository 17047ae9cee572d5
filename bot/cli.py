"""The `oncelink` command: `serve` runs the app; `share` makes a one-time link from stdin or
a file, sealed on this machine and sent to your oncelink server with your personal token
(`/secret token` in Slack, saved by `oncelink login`), or, on the server's own machine
without a token, written straight into its store."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import mimetypes
import os
import sqlite3
import sys
from types import FrameType

from bot.config import ConfigError, Settings, format_duration, parse_duration
from bot.crypto import FileContent
from bot.errors import InvalidSecret, StoreUnavailable
from bot.logs import configure_logging
from bot.remote import Remote

log = logging.getLogger("oncelink")


def _fail(message: str, code: int = 2) -> int:
    print(f"oncelink: {message}", file=sys.stderr)
    return code


def _check_sqlite_path(path: str) -> None:
    """Fail at start-up, not at the first secret, when the file can't be opened."""
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as exc:
        raise ConfigError(f"SQLITE_PATH={path!r} cannot be opened: {exc}") from None


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop (a dependency: it measurably helps, docs/benchmarks.md), else asyncio's own
    loop where uvloop has no build (Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    # Typed as Any where uvloop is not installed (mypy's override in pyproject.toml).
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


# Python's default (700) collected the youngest objects every few requests: with 32 Slack
# commands in flight, objects still in use were walked again and again and promoted, which
# then made the older generations' collections costly. A larger threshold lets short-lived
# request objects die young; docs/benchmarks.md has the measured effect.
YOUNG_OBJECTS_PER_COLLECTION = 5_000


def settle_long_lived_objects() -> None:
    """Move everything alive at start-up (modules, the app, bolt, its listeners) out of the
    garbage collector's reach, and collect the young less often.

    Those ~65,000 objects live as long as the process, yet every full collection walked
    them all: 20-60 ms pauses with the event loop stopped, the worst latencies of
    `/secret` under load (bench/). Frozen objects are never collected, which is right for
    objects that are never garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, *gc.get_threshold()[1:])


def _run_worker(settings: Settings, reuse_port: bool) -> None:
    from aiohttp import web

    from bot.app import create_app
    from bot.web import RedactingAccessLogger

    configure_logging(settings.log_level, settings.log_format)
    log.debug("settings: %r", settings)  # credentials are left out of Settings' repr
    app = create_app(settings)

    async def announce(_: web.Application) -> None:
        settle_long_lived_objects()
        log.info("worker ready")

    app.on_startup.append(announce)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log_class=RedactingAccessLogger,
        access_log=logging.getLogger("oncelink.access"),
        shutdown_timeout=10.0,
        reuse_port=reuse_port,
        loop=event_loop(),
        print=None,
    )


def serve(settings: Settings, workers: int = 1) -> int:
    """Run the app; with several workers, N processes share the port (SO_REUSEPORT) and the
    kernel spreads connections. No process keeps anything another one needs."""
    if not settings.redis_url:
        _check_sqlite_path(settings.sqlite_path)
    configure_logging(settings.log_level, settings.log_format)
    store_name = "Redis" if settings.redis_url else f"SQLite at {settings.sqlite_path}"
    log.info(
        "oncelink serving %s on %s:%s, store: %s, workers: %d",
        settings.public_url,
        settings.host,
        settings.port,
        store_name,
        workers,
    )
    if workers == 1:
        _run_worker(settings, reuse_port=False)
        return 0
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_run_worker, args=(settings, True), daemon=False)
        for _ in range(workers)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.is_alive() and child.pid:
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return max((child.exitcode or 0) for child in children)


class NoServerStore(Exception):
    """SQLITE_PATH names no file a server made: a link stored there would never open."""


def no_server_store(path: str) -> str:
    return (
        f"no oncelink store at {os.path.abspath(path)}: run share in the directory where "
        "`oncelink serve` runs, or give it the server's SQLITE_PATH (or REDIS_URL); "
        "nothing was stored"
    )


def _check_server_store(settings: Settings) -> None:
    """`oncelink serve` creates its SQLite file at start-up. Without one where share would
    write (another directory, a relative SQLITE_PATH), share would make a new file that no
    server reads and print a dead link: it refuses instead. Redis is one store wherever
    the command runs."""
    if not settings.redis_url and not os.path.isfile(settings.sqlite_path):
        raise NoServerStore(no_server_store(settings.sqlite_path))


async def _share(
    settings: Settings,
    text: str,
    ttl: int,
    passphrase: str | None,
    file: FileContent | None = None,
) -> str:
    from bot.service import CLI_CREATOR, SecretService
    from storage import make_store

    if file is None:
        # Said before anything else, whatever the store: an empty secret, a bad expiry.
        SecretService.check_input(text, ttl, settings.max_ttl, passphrase)
    _check_server_store(settings)
    store = make_store(settings.redis_url, settings.sqlite_path)
    try:
        service = SecretService(
            store,
            public_url=settings.public_url,
            max_ttl=settings.max_ttl,
            max_file_size=settings.max_file_size,
        )
        if file is not None:
            created = await service.create_file(
                file, ttl=ttl, passphrase=passphrase, creator=CLI_CREATOR
            )
        else:
            created = await service.create(
                text, ttl=ttl, passphrase=passphrase, creator=CLI_CREATOR
            )
        return created.link
    finally:
        await store.close()


def _read_file(path: str, max_size: int) -> FileContent:
    """The file to share, refused before it is read when it is over MAX_FILE_SIZE."""
    size = os.path.getsize(path)
    if size > max_size:
        raise ValueError(f"{path} is larger than MAX_FILE_SIZE ({max_size} bytes)")
    if size == 0:
        raise ValueError(f"{path} is empty")
    with open(path, "rb") as source:
        data = source.read(max_size + 1)
    if len(data) > max_size:
        raise ValueError(f"{path} is larger than MAX_FILE_SIZE ({max_size} bytes)")
    media_type = mimetypes.guess_type(path)[0] or ""
    return FileContent(os.path.basename(path), media_type, data)


def _ask_passphrase() -> str | None:
    """Prompted, never on the command line (where `ps` and shell history would show it)."""
    passphrase = getpass.getpass("Passphrase: ")
    if getpass.getpass("Repeat passphrase: ") != passphrase:
        raise ValueError("the passphrases differ; nothing was stored")
    return passphrase or None


def _read_stdin() -> str:
    if sys.stdin.isatty():
        print("Type or paste the secret, then press Ctrl-D:", file=sys.stderr)
    text = sys.stdin.read()
    # Exactly one trailing newline is what `echo` and editors add; anything more is content.
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def share_remote(remote: Remote, args: argparse.Namespace) -> int:
    """Seal here, upload with the token: the server never sees the secret or its key."""
    from bot.remote import RemoteError
    from bot.remote import share as send

    try:
        ttl = parse_duration(args.ttl) if args.ttl else REMOTE_DEFAULT_TTL
    except ValueError:
        return _fail(f"--ttl {args.ttl!r} is not a duration; use e.g. 5m, 1h, 1d")
    if args.only_them:
        return _fail(ONLY_THEM_REFUSED)
    if args.to:
        print(
            f"oncelink: the app will DM the link to {args.to} in Slack, so the link passes "
            "through Slack.",
            file=sys.stderr,
        )
    try:
        passphrase = _ask_passphrase() if args.passphrase_prompt else None
        if args.file:
            file = _read_file(args.file, REMOTE_MAX_READ)
            kind = "file"
            plaintext = crypto_file_plaintext(file)
        else:
            text = _read_stdin()
            if not text.strip():
                return _fail("the secret is empty; nothing was stored")
            kind, plaintext = "text", text.encode("utf-8")
    except (OSError, ValueError) as exc:
        return _fail(f"{exc}; nothing was stored" if "nothing" not in str(exc) else str(exc))
    try:
        link = send(
            remote,
            plaintext,
            ttl=ttl,
            passphrase=passphrase,
            kind=kind,
            note=args.note or "",
            to=args.to or "",
        )
    except RemoteError as exc:
        return _fail(str(exc), exc.code)
    print(link)
    return 0


def crypto_file_plaintext(file: FileContent) -> bytes:
    from bot.crypto import file_plaintext

    return file_plaintext(file.name, file.media_type, file.data)


INSECURE_HELP = (
    "allow a plain http:// server that is not this machine (the token and ciphertext "
    "then cross the network readable)"
)


def login(args: argparse.Namespace) -> int:
    """Ask for the token on the terminal (never an argument), check it, and save it."""
    from bot.remote import Remote, RemoteError, check_login, normal_server, write_config

    try:
        server = normal_server(args.server, args.insecure)
        token = getpass.getpass("API token (from /secret token in Slack): ").strip()
        check_login(Remote(server, token))
        path = write_config(server, token)
    except RemoteError as exc:
        return _fail(str(exc), exc.code)
    except OSError as exc:
        return _fail(f"cannot save the token: {exc}")
    print(f"Saved to {path} (readable by you alone). Now: echo hunter2 | oncelink share")
    return 0


def share(settings: Settings, args: argparse.Namespace) -> int:
    try:
        ttl = parse_duration(args.ttl) if args.ttl else settings.default_ttl
    except ValueError:
        return _fail(f"--ttl {args.ttl!r} is not a duration; use e.g. 5m, 1h, 1d")
    if ttl > settings.max_ttl:
        return _fail(f"--ttl is longer than MAX_TTL ({format_duration(settings.max_ttl)})")
    if args.to or args.note or args.only_them:
        return _fail(
            "--to, --note and --only-them need a server and token (--server and --token, "
            "or oncelink login)"
        )
    passphrase = None
    if args.passphrase_prompt:
        try:
            passphrase = _ask_passphrase()
        except ValueError as exc:
            return _fail(str(exc))
    file = None
    text = ""
    if args.file:
        try:
            file = _read_file(args.file, settings.max_file_size)
        except (OSError, ValueError) as exc:
            return _fail(f"{exc}; nothing was stored")
    else:
        text = _read_stdin()
    try:
        link = asyncio.run(_share(settings, text, ttl, passphrase, file))
    except InvalidSecret as exc:
        return _fail(f"{exc} Nothing was stored.")
    except NoServerStore as exc:
        return _fail(str(exc))
    except StoreUnavailable:
        return _fail("the store is not answering; nothing was stored. Try again.", 1)
    print(link)
    return 0


SHARE_HELP = """examples:
  echo hunter2 | oncelink share                  text from stdin
  oncelink share --file deploy.pem --ttl 1h      a file
  oncelink share --to alice@example.com --note "staging db" < password.txt

The secret is encrypted on this machine; the server stores only ciphertext and the link's
key never leaves this machine, unless --to asks the app to DM the link in Slack. The server
and token come from --server/--token, else ONCELINK_SERVER/ONCELINK_TOKEN, else the file
`oncelink login` saved. Without any of them, share writes into the store of a server
running on this machine (its SQLITE_PATH or REDIS_URL). --token shows the token to
anyone who can list processes: prefer oncelink login or ONCELINK_TOKEN.

--only-them is refused: a secret only one person can open is revealed by the server in
Slack, so the server would need its key and would see the secret. Use --to instead.

exit status: 0 the link was printed; 2 refused (bad token, too large, invalid); 1 the
server or store did not answer, was busy, or the upload stalled: try again."""

ONLY_THEM_REFUSED = (
    "--only-them is not available from the command line: a secret only one person can "
    "open is revealed by the server, which then needs its key and sees the secret. Use --to "
    "(a one-time link in their DM), or /secret in Slack with 'Only the person above'. "
    "Nothing was stored."
)
REMOTE_DEFAULT_TTL = 86400
# The server says what it allows (MAX_FILE_SIZE, answered as too_large); this only keeps a
# mistaken path (a disk image) from being read whole into memory first.
REMOTE_MAX_READ = 1024 * 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oncelink", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the web app (reveal page, Slack)")
    serve_parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (default 1)"
    )
    share_parser = commands.add_parser(
        "share",
        help="make a one-time link from stdin or a file",
        description="Make a one-time link from stdin or --file and print it.",
        epilog=SHARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    share_parser.add_argument(
        "--server", help="your oncelink server, e.g. https://secrets.example.com"
    )
    share_parser.add_argument("--token", help="your API token, olk_... (from /secret token)")
    share_parser.add_argument("--insecure", action="store_true", help=INSECURE_HELP)
    share_parser.add_argument("--ttl", help="expiry, e.g. 5m, 1h, 1d (default: 1d, or DEFAULT_TTL)")
    share_parser.add_argument(
        "--passphrase",
        "--passphrase-prompt",
        dest="passphrase_prompt",
        action="store_true",
        help="ask (on the terminal) for a passphrase the recipient must type too",
    )
    share_parser.add_argument(
        "--file", metavar="PATH", help="share this file (name and bytes) instead of stdin's text"
    )
    share_parser.add_argument(
        "--note", help="a label for your list and the recipient's DM (not secret, not encrypted)"
    )
    share_parser.add_argument(
        "--to",
        metavar="WHO",
        help="a Slack member id (U...) or email: the app DMs them the link (through Slack)",
    )
    share_parser.add_argument("--only-them", action="store_true", help="refused: see below")
    login_parser = commands.add_parser(
        "login",
        help="save your server and API token for share",
        description="Ask for your API token (from /secret token in Slack), check it with the "
        "server, and save both, readable by you alone, in your config directory.",
    )
    login_parser.add_argument("--server", required=True, help="your oncelink server's URL")
    login_parser.add_argument("--insecure", action="store_true", help=INSECURE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "login":
            return login(args)
        if args.command == "share":
            from bot.remote import RemoteError, resolve

            try:
                remote = resolve(args.server, args.token, args.insecure)
            except RemoteError as exc:
                return _fail(str(exc), exc.code)
            if remote is not None:
                return share_remote(remote, args)
        settings = Settings.from_env(os.environ)
        if args.command == "serve":
            if not 1 <= args.workers <= 64:
                return _fail("--workers must be from 1 to 64")
            return serve(settings, args.workers)
        return share(settings, args)
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
