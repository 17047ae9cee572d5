"""The docs name the tests that keep their promises; a renamed or deleted test must not leave
a promise pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M))
    return names


def test_every_test_named_in_security_md_exists():
    security = (ROOT / "docs" / "SECURITY.md").read_text()
    table = security.split("## Promises and how they are tested", 1)[1]
    named = set(re.findall(r"`(test_\w+)`", table))
    assert len(named) > 30  # the table is there and was read
    assert sorted(named - _defined_tests()) == []


def test_the_readme_stays_a_ten_minute_read_and_its_links_resolve():
    """The README is the door (what it is, the two commands, Slack in brief, links): details
    live in docs/. Every relative link in it, and in the docs, names a file that exists."""
    readme = ROOT / "README.md"
    assert len(readme.read_bytes()) <= 8 * 1024
    for page in [readme, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
