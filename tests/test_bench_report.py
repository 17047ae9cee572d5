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


def test_make_bench_writes_the_docs_page_which_holds_both_sections_once():
    assert REPORT == ROOT / "docs" / "benchmarks.md"
    text = REPORT.read_text("utf-8")
    for section in ("bench.run", "bench.instructions"):
        begin, end = f"<!-- {section}: begin -->", f"<!-- {section}: end -->"
        assert text.count(begin) == text.count(end) == 1
        assert text.index(begin) < text.index(end)
