"""`make bench` writes docs/benchmarks.md: each program replaces its own marked section and
leaves the hand-written method and readings around it as they are."""

from __future__ import annotations

from pathlib import Path

from bench.run import REPORT, write_report

ROOT = Path(__file__).resolve().parents[1]

PAGE = """# Benchmarks

How it is measured, by hand.

<!-- bench.run: begin -->

old wrk table

<!-- bench.run: end -->

Between the sections, by hand.

<!-- bench.instructions: begin -->

old instruction counts

<!-- bench.instructions: end -->

What the runs showed, by hand.
"""


def test_a_run_replaces_its_own_section_and_nothing_else(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)

    write_report("bench.run", "new wrk table\n", page)

    assert page.read_text() == PAGE.replace("old wrk table", "new wrk table")


def test_the_next_run_replaces_the_previous_one_instead_of_adding_to_it(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)

    write_report("bench.instructions", "first run", page)
    write_report("bench.instructions", "second run", page)

    text = page.read_text()
    assert text == PAGE.replace("old instruction counts", "second run")
    assert text.count("<!-- bench.instructions: begin -->") == 1


def test_a_page_without_the_section_gets_it_at_its_end(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nMethod, by hand.\n")

    write_report("bench.run", "the table", page)

    assert page.read_text() == (
        "# Benchmarks\n\nMethod, by hand.\n\n"
        "<!-- bench.run: begin -->\n\nthe table\n\n<!-- bench.run: end -->\n"
    )


SECTIONS = ("bench.run", "bench.peer", "bench.openloop", "bench.instructions")


def test_make_bench_writes_the_docs_page_which_holds_each_section_once():
    assert REPORT == ROOT / "docs" / "benchmarks.md"
    text = REPORT.read_text("utf-8")
    for section in SECTIONS:
        begin, end = f"<!-- {section}: begin -->", f"<!-- {section}: end -->"
        assert text.count(begin) == text.count(end) == 1
        assert text.index(begin) < text.index(end)


def test_make_bench_runs_every_program_that_writes_a_section_in_one_run():
    """The peer ratios, the open-loop table and the instruction lines come from one
    `make bench`: its recipe runs each section's program, in the page's order."""
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile[makefile.index("\nbench:") :].split("\n\n", 1)[0]
    runs = [line.split("-m ", 1)[1].strip() for line in recipe.splitlines() if " -m bench." in line]
    assert runs == list(SECTIONS)
    text = REPORT.read_text("utf-8")
    assert [text.index(f"<!-- {s}: begin -->") for s in SECTIONS] == sorted(
        text.index(f"<!-- {s}: begin -->") for s in SECTIONS
    )
