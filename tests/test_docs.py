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
