"""The README says mypy is strict on bot/ and storage/. mypy applies a `strict = true` found
in a per-module override to every module, so pyproject.toml spells the options out; this
checks the spelled-out list against what the installed mypy's `--strict` turns on, so a
newer mypy that grows `--strict` fails here instead of quietly checking less."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _strict_flags() -> list[str]:
    """The flags `mypy --help` lists under --strict, e.g. `disallow-untyped-defs`."""
    text = subprocess.run(
        [sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True, check=True
    ).stdout
    section = re.search(
        r"--strict\s+Strict mode; enables the following flags:(.*?)\n  --", text, re.S
    )
    assert section, "mypy --help no longer describes --strict as this test reads it"
    joined = re.sub(r"-\n\s+", "-", section.group(1))  # rejoin flags wrapped at a hyphen
    return re.findall(r"--([a-z-]+)", joined)


def _config() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]


def test_bot_and_storage_get_every_option_of_mypy_strict():
    config = _config()
    strict = [o for o in config["overrides"] if {"bot.*", "storage.*"} <= set(o["module"])]
    assert len(strict) == 1
    flags = _strict_flags()
    assert len(flags) >= 10
    for flag in flags:
        negated = flag.startswith("no-")
        option = flag.removeprefix("no-").replace("-", "_")
        value = strict[0].get(option, config.get(option))
        assert value is (not negated), f"--strict turns on --{flag}; pyproject.toml does not"


def test_handlers_are_checked_but_not_strict():
    config = _config()
    assert set(config["files"]) == {"bot", "handlers", "storage"}
    for override in config["overrides"]:
        assert not any(m.startswith("handlers") for m in override["module"])
