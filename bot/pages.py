"""The reveal page and the calm status pages, rendered from fixed templates.

Titles and Open Graph tags are the same for every page so a link preview (Slackbot, a
mail scanner) learns nothing about the secret. Whether one exists it does not learn either:
an id that is well formed but unknown (revealed, burned, expired, never made) gets the very
page of a waiting secret without a passphrase, with the same status. Only the passphrase
field, on the page of a secret that has one, tells that something waits. The page's script
learns the rest when someone clicks Reveal.
"""

from __future__ import annotations

from html import escape
from string import Template

from bot.config import format_duration
from bot.service import MAX_PASSPHRASE_ATTEMPTS, MAX_SECRET_BYTES, MIN_PASSPHRASE_LENGTH

_LAYOUT = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>oncelink</title>
<meta property="og:title" content="oncelink">
<meta property="og:description" content="A private link shared with you.">
<link rel="stylesheet" href="/static/reveal.css">
$head
</head>
<body>
<main id="app"$attrs>
$body
<footer>oncelink: one-time secrets. Nothing on this page comes from anywhere else.</footer>
</main>
</body>
</html>
""")

_SECRET_BODY = Template("""<h1>A one-time secret was shared with you</h1>
<div id="intro">
<p>It can be viewed <strong>once</strong>. When you reveal it, it is deleted from the server
for good, so keep this page open until you have saved it.</p>
$passphrase_hint
</div>
<noscript><p class="notice">This page needs JavaScript: the secret is decrypted here in your
browser, with a key that never leaves it. Please enable JavaScript and reload.</p></noscript>
<form id="reveal-form" hidden>
$passphrase_field
<button type="submit" id="reveal">Reveal secret</button>
</form>
<p id="message" role="status" aria-live="polite"></p>
<section id="result" hidden>
<label for="secret">Your secret</label>
<textarea id="secret" rows="6" readonly spellcheck="false" autocomplete="off"></textarea>
<button type="button" id="copy">Copy</button>
<p class="muted">This secret has now been deleted from the server. Opening the link again
will not show it.</p>
</section>
<section id="file-result" hidden>
<p><span id="file-name"></span> (<span id="file-size"></span>)</p>
<button type="button" id="download">Download</button>
<p class="muted">This file has now been deleted from the server. Save it now: opening the
link again will not show it, and leaving this page forgets it.</p>
</section>""")

_PASSPHRASE_FIELD = """<label for="passphrase">Passphrase</label>
<input id="passphrase" name="passphrase" type="password" autocomplete="off" required
 aria-describedby="passphrase-help">
<p id="passphrase-help" class="muted">The person who shared it will have told you.</p>"""

_PASSPHRASE_HINT = (
    "<p>It is protected by a passphrase. "
    f"After {MAX_PASSPHRASE_ATTEMPTS} wrong tries it is destroyed.</p>"
)


_ID_SLOT = "\x00secret-id\x00"


def _secret_page_template(has_passphrase: bool) -> str:
    body = _SECRET_BODY.substitute(
        passphrase_field=_PASSPHRASE_FIELD if has_passphrase else "",
        passphrase_hint=_PASSPHRASE_HINT if has_passphrase else "",
    )
    return _LAYOUT.substitute(
        head='<script src="/static/reveal.js" defer></script>',
        attrs=f' data-secret-id="{_ID_SLOT}"',
        body=body,
    )


# Rendered once at import; a request only drops the id into its slot (the hot path).
_SECRET_PAGES = {flag: _secret_page_template(flag) for flag in (False, True)}


def secret_page(secret_id: str, has_passphrase: bool) -> str:
    """The page for an id that may hold a secret. Rendering it never touches the secret."""
    return _SECRET_PAGES[has_passphrase].replace(_ID_SLOT, escape(secret_id))


def _status_page(title: str, text: str) -> str:
    return _LAYOUT.substitute(
        head="", attrs="", body=f"<h1>{escape(title)}</h1>\n<p>{escape(text)}</p>"
    )


GONE_PAGE = _status_page(
    "This secret is not here",
    "It has already been viewed, was deleted, or has expired. Secrets can be viewed only "
    "once. If you still need it, ask the person who shared it to send a new link.",
)
UNAVAILABLE_PAGE = _status_page(
    "Temporarily unavailable",
    "The secret store is not answering right now. Nothing was viewed or deleted; please "
    "try again in a minute.",
)
ERROR_PAGE = _status_page(
    "Something went wrong",
    # Also the answer to an unexpected failure of a reveal, which may come after the store
    # deleted the secret: so it claims nothing about what happened to it.
    "This could not be completed. Please try again in a minute; if the secret is gone "
    "then, ask the person who shared it for a new link.",
)
NOT_FOUND_PAGE = _status_page("Page not found", "There is nothing at this address.")


_COMPOSE_BODY = Template("""<h1>Write a one-time secret</h1>
<div id="intro">
<p>Type a secret or choose one file. It is encrypted here, in your browser, before it is
sent: the server stores only ciphertext, and Slack never sees it. You get a link that shows
it <strong>once</strong>.</p>
</div>
<noscript><p class="notice">This page needs JavaScript: the secret is encrypted here in
your browser. Please enable JavaScript and reload.</p></noscript>
<form id="compose-form" hidden>
<label for="text">Secret</label>
<textarea id="text" rows="6" spellcheck="false" autocomplete="off"></textarea>
<label for="file">Or one file (at most $max_size)</label>
<input id="file" type="file">
<label for="ttl">Expires after</label>
<select id="ttl">
$options
</select>
<label for="passphrase">Passphrase (optional)</label>
<input id="passphrase" type="password" autocomplete="new-password"
 aria-describedby="passphrase-help">
<p id="passphrase-help" class="muted">At least $min_passphrase characters. Tell it to the
recipient another way.</p>
$pass_on
<button type="submit" id="create">Create link</button>
</form>
<p id="message" role="status" aria-live="polite"></p>
<section id="result" hidden>
<label for="link">Your one-time link</label>
<input id="link" readonly spellcheck="false" autocomplete="off">
<button type="button" id="copy">Copy</button>
<p class="muted">Send it to the person who needs the secret. It works once, until it
expires. This page's own link is used up.</p>
</section>""")

_PASS_ON = Template("""<label class="check"><input id="pass-on" type="checkbox">
Also send the link to $recipient in Slack</label>
<p class="muted">This passes the link (not the secret's text) through Slack: whoever can
read that message there can open the secret once.</p>""")


def compose_page(
    secret_id: str,
    link_base: str,
    *,
    expiry_choices: tuple[int, ...],
    default_ttl: int,
    max_file_size: int,
    recipient_label: str,
) -> str:
    """The compose page: everything it needs is in attributes, read by compose.js."""
    options = "\n".join(
        f'<option value="{ttl}"{" selected" if ttl == default_ttl else ""}>'
        f"{escape(format_duration(ttl))}</option>"
        for ttl in expiry_choices
    )
    body = _COMPOSE_BODY.substitute(
        max_size=escape(format_size(max_file_size)),
        options=options,
        min_passphrase=MIN_PASSPHRASE_LENGTH,
        pass_on=_PASS_ON.substitute(recipient=escape(recipient_label)) if recipient_label else "",
    )
    attrs = (
        f' data-compose-id="{escape(secret_id)}" data-link-base="{escape(link_base)}"'
        f' data-max-file-size="{max_file_size}" data-max-text="{MAX_SECRET_BYTES}"'
        f' data-min-passphrase="{MIN_PASSPHRASE_LENGTH}"'
    )
    return _LAYOUT.substitute(
        head='<script src="/static/reveal.js" defer></script>\n'
        '<script src="/static/compose.js" defer></script>',
        attrs=attrs,
        body=body,
    )


def format_size(size: int) -> str:
    """1048576 -> '1 MiB'; what a person reads next to a file field."""
    for unit, step in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= step:
            value = size / step
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


COMPOSE_GONE_PAGE = _status_page(
    "This compose link is not valid",
    "It has been used already, has expired (after 10 minutes), or was never made. Nothing "
    "was stored. Ask for a new one with /secret compose in Slack.",
)


_OUTSIDE_BODY = Template("""<h1>Someone asked you for a secret</h1>
<div id="intro">
<p>Someone using oncelink asked you for:</p>
<p class="note" id="note">$note</p>
<p>Type the secret or choose one file. It is encrypted here, in your browser, before it is
sent: the server stores only ciphertext, and only the person who asked can open it. This
link works <strong>once</strong>.</p>
</div>
<noscript><p class="notice">This page needs JavaScript: the secret is encrypted here in
your browser. Please enable JavaScript and reload.</p></noscript>
<form id="answer-form" hidden>
<label for="text">Secret</label>
<textarea id="text" rows="6" spellcheck="false" autocomplete="off"></textarea>
<label for="file">Or one file (at most $max_size)</label>
<input id="file" type="file">
<button type="submit" id="send">Send securely</button>
</form>
<p id="message" role="status" aria-live="polite"></p>""")


def outside_page(request_id: str, note: str, *, max_file_size: int) -> str:
    """The upload page of a request to someone outside Slack. The note is the requester's
    own text: escaped, like everything a page shows that someone typed."""
    body = _OUTSIDE_BODY.substitute(
        note=escape(note) if note else "a secret",
        max_size=escape(format_size(max_file_size)),
    )
    attrs = (
        f' data-request-id="{escape(request_id)}" data-max-file-size="{max_file_size}"'
        f' data-max-text="{MAX_SECRET_BYTES}"'
    )
    return _LAYOUT.substitute(
        head='<script src="/static/reveal.js" defer></script>\n'
        '<script src="/static/outside.js" defer></script>',
        attrs=attrs,
        body=body,
    )


OUTSIDE_GONE_PAGE = _status_page(
    "This link has been used",
    "It has already been answered, was withdrawn, has expired, or was never made. Nothing "
    "more can be sent with it. If you still need to send something, ask the person who "
    "asked for a new link.",
)
