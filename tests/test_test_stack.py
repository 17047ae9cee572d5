"""`make test` sets up its own stack: scripts/test_stack.sh installs what is missing where the
machine can, and otherwise stops with one line saying what to install. Each case runs the real
script on a PATH made for it, so the machine under test can lack any part or have no root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "test_stack.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


def _machine(tmp_path: Path, *, uid: int, apt: bool, present: tuple[str, ...] = ()) -> dict:
    """A PATH with the script's plain tools, a chosen uid, and only the parts in `present`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("mktemp", "tail", "rm", "chmod"):
        os.symlink(shutil.which(name), bin_dir / name)
    _tool(bin_dir, "id", f"echo {uid}")
    for name in present:
        _tool(bin_dir, name, "exit 0")
    chromium = tmp_path / "chromium"
    if apt:
        # Records its calls, and "installs" by creating the parts it was asked for.
        _tool(
            bin_dir,
            "apt-get",
            f'echo "$*" >> {tmp_path}/apt.log\n'
            'if [ "$1" = install ]; then\n'
            f"  for cmd in redis-server redis-cli; do printf '#!{BASH}\\n' > {bin_dir}/$cmd;"
            f" chmod +x {bin_dir}/$cmd; done\n"
            f"  printf '#!{BASH}\\n' > {chromium}; chmod +x {chromium}\n"
            "fi",
        )
    return {"PATH": str(bin_dir), "TEST_STACK_CHROMIUM": str(chromium)}


def _run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_missing_parts_without_root_stop_with_one_line_naming_the_install_command(tmp_path):
    result = _run(_machine(tmp_path, uid=1000, apt=True))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "make test needs redis-server redis-tools chromium" in lines[0]
    assert lines[0].endswith("sudo apt-get install -y redis-server redis-tools chromium")
    assert not (tmp_path / "apt.log").exists()  # nothing was attempted


def test_missing_parts_without_apt_get_stop_before_any_test(tmp_path):
    result = _run(_machine(tmp_path, uid=0, apt=False, present=("redis-server", "redis-cli")))
    assert result.returncode == 2
    assert result.stderr.strip().endswith(": apt-get install -y chromium")


def test_root_with_apt_get_installs_what_is_missing_with_one_line_of_output(tmp_path):
    env = _machine(tmp_path, uid=0, apt=True)
    result = _run(env)
    assert result.returncode == 0, result.stderr
    said = "test stack: installing redis-server redis-tools chromium with apt-get\n"
    assert result.stdout == said
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls == [
        "update -qq",
        "install -y -qq --no-install-recommends redis-server redis-tools chromium",
    ]
    again = _run(env)  # everything is there now: silent, nothing installed twice
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len((tmp_path / "apt.log").read_text().splitlines()) == 2


def test_a_failed_install_stops_the_run(tmp_path):
    env = _machine(tmp_path, uid=0, apt=False)
    _tool(Path(env["PATH"]), "apt-get", 'echo "E: Unable to locate package $*" >&2; exit 100')
    result = _run(env)
    assert result.returncode == 2
    assert "apt-get could not install redis-server redis-tools chromium" in result.stderr


def test_makefile_and_ci_go_through_the_one_script():
    root = SCRIPT.parents[1]
    makefile = (root / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/test_stack.sh" in test_recipe
    assert test_recipe.index("test_stack.sh") < test_recipe.index("pytest")
    assert re.search(r"^check: lint types test$", makefile, re.M)  # CI's command runs the suite
    ci = (root / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("make check")
    assert "`make check`" in (root / "README.md").read_text()  # the README names CI's command
    assert "chromium" not in ci and "redis" not in ci  # installed by the script, not here too
