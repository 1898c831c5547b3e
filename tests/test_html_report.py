"""`--format html`: one self-contained page, checked as text here and opened in a real headless
Chromium below (no request leaves the page, no console error, every chart drawn, a screenshot
kept, the verdict on the first page of the printed PDF)."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

from browser_helpers import chromium, watched

pytest.importorskip("jinja2", reason='pip install "diplo[html]"')

ROOT = Path(__file__).resolve().parent.parent
CASE = "cases/ally-trims-exercises.yaml"
ARTIFACTS = Path(__file__).parent / "artifacts"


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def page() -> str:
    os.chdir(ROOT)
    status, out, err = run("assess", CASE, "--format", "html", "--exit-zero")
    assert (status, err) == (0, "")
    return out


@pytest.fixture(scope="module")
def batch() -> str:
    os.chdir(ROOT)
    status, out, _ = run("assess", "cases/", "--format", "html", "--exit-zero")
    assert status == 0
    return out


def _report(path=CASE):
    return json.loads(run("assess", path, "--format", "json", "--exit-zero", "--explain")[1])


# --- as text ------------------------------------------------------------------------------------

def test_verdict_and_counts_come_first(page):
    report = _report()
    verdict = page.index(f"Verdict: {report['verdict'].upper()}")
    assert verdict < page.index("<svg") < page.index('class="finding')
    assert "1 critical, 1 high, 1 low, 1 info risks; 3 strengths" in page


def test_every_finding_with_its_message_remedy_quote_and_proof_tree(page):
    from markupsafe import escape
    report = _report()
    for finding in report["findings"]:
        assert escape(finding["id"]) in page
        assert escape(finding["message"]) in page
        assert escape(finding["citation"]["quote"]) in page
        if finding["remediation"]:
            assert escape(finding["remediation"]) in page
        for effect in finding["effects"]:
            assert escape(effect["message"]) in page
    assert page.count('<details class="proof">') == len(report["findings"])
    # the proof trees reach the derived facts the report's --explain lists
    for fact in report["facts"]:
        if any(fact["id"] in f["because"] for f in report["findings"]):
            assert f'<span class="node-id">{escape(fact["id"])}</span>' in page


def test_coverage_and_charts_are_there(page):
    report = _report()
    for entry in report["coverage"]:
        assert entry["missing"] in page
    charts = re.findall(r'<svg [^>]*class="chart ([a-z-]+)"', page)
    assert charts == ["findings-chart", "change-chart", "benchmark-chart", "change-chart"]
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
        assert re.search(r'aria-labelledby="[^"]+-title [^"]+-desc"', svg)
    # the figures in words, for a reader who cannot see the chart
    assert "multinational-exercises: 95 against 185 (-48.8% in real terms)" in page
    assert "Share of GDP: 1.9" in page and "below the guideline of 2%" in page


def test_the_page_is_self_contained_and_the_same_each_time(page):
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page     # the browser refuses any request the page could make
    assert run("assess", CASE, "--format", "html", "--exit-zero")[1] == page


def test_text_from_a_case_is_escaped(tmp_path):
    text = (ROOT / "cases" / "balanced-partner.yaml").read_text()
    evil = "<script>alert(1)</script> & \"quotes\""
    text = text.replace("title: Country E, FY2027 defence budget", f"title: '{evil}'")
    (tmp_path / "evil.yaml").write_text(text)
    status, out, err = run("assess", str(tmp_path / "evil.yaml"), "--format", "html",
                           "--exit-zero")
    assert status == 0, err
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in out


def test_a_batch_opens_with_a_portfolio_linking_to_each_case(batch):
    reports = json.loads(run("assess", "cases/", "--format", "json", "--exit-zero")[1])
    assert batch.index("Portfolio") < batch.index('<section class="case"')
    links = re.findall(r'<a href="#(case-[^"]+)"><text', batch)
    assert len(links) == len(reports)
    for anchor in links:
        assert f'<section class="case" id="{anchor}"' in batch
    # worst first: the heat map's first row is a failing case with a critical risk
    first = links[0].removeprefix("case-")
    worst = next(r for r in reports if r["case"]["id"] == first)
    assert worst["verdict"] == "fail" and worst["summary"]["risks"]["critical"] >= 1
    assert [r["verdict"] for r in reports].count("pass") >= 1


def test_a_page_is_rendered_from_a_report_given_as_data():
    from engine import load_case, load_pack
    from engine.api import assess
    from engine.formats.html import render_page
    from engine.formats.html_figures import case_figures
    from engine.model import Report
    pack = load_pack()
    case = load_case(CASE, pack)
    report = Report.model_validate_json(assess(case, pack, explain=True).to_json())
    figures = json.loads(json.dumps({case.id: case_figures(case, pack).model_dump()}))
    page = render_page([report], figures=figures)
    assert page == run("assess", CASE, "--format", "html", "--exit-zero")[1]
    assert report._repr_html_() == page   # a notebook shows a report as this page


def test_rules_are_not_an_html_page():
    status, out, err = run("rules", "list", "--format", "html")
    assert (status, out) == (2, "")
    assert err.startswith("diplo: error: --format: format html shows assessments")


# --- in a real browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory)


def _open(browser, html_text: str, path: Path):
    path.write_text(html_text, encoding="utf-8")
    requests, problems = [], []
    page = watched(browser.new_page(), requests, problems)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    return page, requests, problems


@pytest.mark.parametrize("which", ["page", "batch"])
def test_the_page_in_chromium(browser, which, request, tmp_path):
    text = request.getfixturevalue(which)
    target = tmp_path / f"{which}.html"
    page, requests, problems = _open(browser, text, target)
    try:
        assert requests == [target.as_uri()]        # nothing but the file itself
        assert problems == []
        sizes = page.eval_on_selector_all(
            "svg.chart", "els => els.map(e => [e.id, e.getBoundingClientRect().width, "
                         "e.getBoundingClientRect().height])")
        assert len(sizes) == text.count('<svg xmlns=')
        assert sizes and all(w > 100 and h > 50 for _, w, h in sizes), sizes
        # the proof trees fold and unfold
        proof = page.locator("details.proof").first
        assert not proof.locator("ul.tree").is_visible()
        proof.locator("summary").click()
        assert proof.locator("ul.tree").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"html-report-{which}.png"
        page.screenshot(path=str(shot), full_page=which == "page")
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        page.close()


def test_the_printed_pdf_has_the_verdict_on_page_one(browser, page, tmp_path):
    pypdf = pytest.importorskip("pypdf", reason="pip install pypdf (the test extra)")
    shown, requests, problems = _open(browser, page, tmp_path / "page.html")
    try:
        pdf = tmp_path / "report.pdf"
        shown.pdf(path=str(pdf), format="A4", print_background=True)
    finally:
        shown.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "html-report.pdf")
    print(f"pdf: {ARTIFACTS / 'html-report.pdf'}")
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) > 1
    first = " ".join(reader.pages[0].extract_text().split())
    assert "Verdict: FAIL" in first
    assert "1 critical, 1 high, 1 low, 1 info risks; 3 strengths" in first
    assert problems == []
