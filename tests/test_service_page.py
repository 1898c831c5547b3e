"""The web page of `diplo serve`, in a real headless Chromium (as tests/test_html_report.py
opens the HTML report): a pasted case and an uploaded spreadsheet are assessed and show the
findings the JSON API gives, a changed figure shows the what-if comparison, the report
downloads, no console error, and no request leaves the server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_helpers import chromium, watched
from serve_helpers import HOW_TO, ROOT, Server

httpx = pytest.importorskip("httpx", reason=HOW_TO)
pytest.importorskip("starlette", reason=HOW_TO)
pytest.importorskip("jinja2", reason='pip install "diplo[html]"')

CASE = "cases/ally-trims-exercises.yaml"
ARTIFACTS = Path(__file__).parent / "artifacts"
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server("--workers", "2", cache_dir=tmp_path_factory.getbasetemp() / "diplo-serve-cache",
                log_file=tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory, accept_downloads=True)


@pytest.fixture()
def page(browser, server):
    shown = browser.new_page()
    shown.requests, shown.problems = [], []
    watched(shown, shown.requests, shown.problems)
    shown.set_viewport_size({"width": 1200, "height": 1000})
    shown.goto(server.url + "/", wait_until="load")
    yield shown
    assert shown.problems == []
    # nothing but this server (and the page's own downloads, blob: URLs of its origin)
    for url in shown.requests:
        assert url.startswith((server.url + "/", f"blob:{server.url}/")), url
    shown.close()


def shown_findings(page) -> list[str]:
    return page.eval_on_selector_all("#report .finding-id code",
                                     "codes => codes.map(c => c.textContent)")


def test_a_pasted_case_shows_the_findings_of_the_api(server, page):
    text = (ROOT / CASE).read_text(encoding="utf-8")
    page.fill("#case-text", text)
    page.click("#assess")
    page.wait_for_selector("#report article.finding")
    api = httpx.post(server.url + "/v1/assess", content=text.encode(), timeout=60).json()
    assert shown_findings(page) == [f["id"] for f in api["findings"]]
    verdict = page.text_content("#report .verdict")
    assert "Verdict: FAIL" in verdict and "1 critical, 1 high" in verdict
    # the report's charts and proof trees, as the HTML report draws them
    assert page.locator("#report svg.chart").count() >= 3
    proof = page.locator("#report details.proof").first
    assert not proof.locator("ul.tree").is_visible()
    proof.locator("summary").click()
    assert proof.locator("ul.tree").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "service-page.png"))

    # a figure changed: the what-if comparison, as the API gives it
    path = "line_items[3].amount"
    page.select_option("#whatif-path", path)
    assert page.input_value("#whatif-value") == "95"
    page.fill("#whatif-value", "150")
    page.click("#whatif-run")
    page.wait_for_selector("#comparison .verdicts")
    comparison = httpx.post(server.url + "/v1/whatif", content=text.encode(), timeout=60,
                            params={"set": f"{path}=150"}).json()
    rows = page.eval_on_selector_all("#comparison tr[data-finding]",
                                     "rows => rows.map(r => r.dataset.finding)")
    expected = [c["id"] for c in comparison["new"] + comparison["resolved"]
                + comparison["changed"]]
    assert rows == expected and expected
    assert "line_items.multinational-exercises.amount: 95 \u2192 150" in \
        page.text_content("#comparison")

    # the report downloads as the API gives it
    with page.expect_download() as download:
        page.click(".downloads button[data-format='json']")
    saved = download.value.path()
    assert download.value.suggested_filename == "country-a-fy2027.json"
    assert json.loads(Path(saved).read_text()) == api


def test_an_uploaded_spreadsheet_with_its_mapping(server, page, tmp_path):
    pytest.importorskip("openpyxl", reason='pip install "diplo[spreadsheets]"')
    from test_spreadsheets import MAPPING, make_workbook
    workbook = make_workbook(tmp_path / "budget.xlsx")
    (tmp_path / "map.yaml").write_text(MAPPING)
    page.set_input_files("#case-file", str(workbook))
    assert page.is_visible("#mapping-row")
    page.set_input_files("#mapping-file", str(tmp_path / "map.yaml"))
    page.click("#assess")
    page.wait_for_selector("#report article.finding")
    api = httpx.post(server.url + "/v1/assess", timeout=60, files={
        "case": ("budget.xlsx", workbook.read_bytes()),
        "mapping": ("map.yaml", MAPPING.encode())}).json()
    assert shown_findings(page) == [f["id"] for f in api["findings"]]
    assert api["case"]["source"] == "budget.xlsx"


def test_an_invalid_case_shows_each_problem_with_its_line(server, page):
    page.fill("#case-text", "id: x\ntitle: 5\n")
    page.click("#assess")
    page.wait_for_selector("#problems li")
    problems = page.eval_on_selector_all("#problems li", "items => items.map(i => i.textContent)")
    assert problems[0] == ("<request>:2:8: title: expected a string, found the number 5 (put "
                           "the text in quotes)")
    assert page.get_attribute("#status", "class") == "error"
    assert page.is_hidden("#result")
    # the browser notes each answer of 422 on its console (the assessment and the
    # explanation asked for): those, and nothing else
    assert len(page.problems) == 2 and all("status of 422" in p for p in page.problems)
    page.problems.clear()
