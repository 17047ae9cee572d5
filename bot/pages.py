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

from bot.service import MAX_PASSPHRASE_ATTEMPTS

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
