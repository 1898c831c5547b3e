"""Output for reviewers and for large batches: the Markdown memo's title, outline, summary and
length limit; the table's finding ids and proof trees; JSON Lines, written as cases finish."""
from __future__ import annotations

import json
import re
import shlex

import pytest

import engine.api
from engine import formats, load_case, load_pack
from engine.api import assess_each, iter_assess_each
from engine.formats import short_ids
from engine.formats.markdown import DEFAULT_MAX_CHARS
from engine.formats.tree import proof_lines
from engine.model import RiskCounts, Summary

from conftest import BASE_CASE, ROOT, run_cli

CASES = sorted(f"cases/{p.name}" for p in (ROOT / "cases").glob("*.yaml"))
ALLY = "cases/ally-trims-exercises.yaml"
BALANCED = "cases/balanced-partner.yaml"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def pack():
    return load_pack()


@pytest.fixture(scope="module")
def ally(pack):
    return engine.api.assess(load_case(ROOT / ALLY, pack), pack, explain=True)


def assess(*args, status=(0, 1)):
    result = run_cli("assess", *args)
    assert result.exit_code in status, result.stderr
    return result


def headings(text: str) -> list[int]:
    # the levels of the document's headings, outside code blocks
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) \S", text, re.M)]


def valid_outline(levels: list[int]) -> bool:
    return bool(levels) and levels[0] == 1 and levels.count(1) == 1 and all(
        b <= a + 1 for a, b in zip(levels, levels[1:]))


def many_findings(report) -> object:
    """A report with the case of `report` and, made from its first risk and strength, 1
    critical, 4 high, 5 medium and 5 low risks and 3 strengths: a shape that does not depend on
    what the default pack finds."""
    risk = next(f for f in report.findings if f.kind == "risk")
    strength = next(f for f in report.findings if f.kind != "risk")
    counts = {"critical": 1, "high": 4, "medium": 5, "low": 5}
    findings = [risk.model_copy(update={"id": f"{risk.rule}:{severity}-{i}",
                                        "severity": severity, "severity_override": None})
                for severity, count in counts.items() for i in range(count)]
    findings += [strength.model_copy(update={"id": f"{strength.rule}:strength-{i}"})
                 for i in range(3)]
    return report.model_copy(update={
        "findings": findings, "verdict": "fail", "facts": None, "near_misses": None,
        "coverage": [], "warnings": [], "notes": None, "robustness": None,
        "summary": Summary(risks=RiskCounts(**counts), strengths=3)})


def copies(report, count: int) -> list:
    """`count` reports of distinct cases, each with the findings of `report`."""
    return [report.model_copy(update={"case": report.case.model_copy(update={
        "id": f"case-{i:04d}", "title": f"Case {i}", "source": f"cases/{i:04d}.yaml"})})
        for i in range(count)]


# --- the memo: a title, an outline without gaps ------------------------------------------------

@pytest.mark.parametrize("args", [
    (ALLY,), (BALANCED,), tuple(CASES), (ALLY, "--explain"), (ALLY, BALANCED, "--near-miss"),
    (ALLY, "--summary"), tuple(CASES) + ("--summary",), tuple(CASES) + ("--max-chars", "9000"),
])
def test_the_memo_has_one_title_and_no_skipped_heading_level(args):
    text = assess(*args, "--format", "markdown").stdout
    assert text.startswith("# ")
    levels = headings(text)
    assert valid_outline(levels), levels


def test_a_single_memo_is_titled_by_its_case_and_a_batch_by_its_cases():
    one = assess(ALLY, "--format", "markdown").stdout
    assert one.splitlines()[0] == "# Assessment: Country A, FY2027 defence budget proposal"
    batch = assess(ALLY, BALANCED, "--format", "markdown").stdout
    assert batch.splitlines()[0] == "# Assessment: 2 cases"
    assert re.findall(r"^## (.+)$", batch, re.M) == [
        "Country A, FY2027 defence budget proposal", "Country E, FY2027 defence budget"]
    # a batch collapses each finding's body; one case shows it
    reports = json.loads(assess(ALLY, BALANCED, "--format", "json").stdout)
    assert "<details>" not in one
    assert batch.count("<details><summary>Details</summary>") == sum(
        len(r["findings"]) for r in reports)


def test_sections_after_the_memo_keep_the_outline(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [\n", encoding="utf-8")
    result = run_cli("assess", ALLY, BALANCED, broken, "--format", "markdown")
    assert result.exit_code == 2
    assert "\n## Cases that could not be assessed\n" in result.stdout
    assert valid_outline(headings(result.stdout))


# --- --summary ---------------------------------------------------------------------------------

def test_the_memo_summary_has_verdicts_and_counts_per_concern_but_no_finding():
    text = assess(*CASES, "--format", "markdown", "--summary").stdout
    reports = json.loads(assess(*CASES, "--format", "json").stdout)
    for report in reports:
        for finding in report["findings"]:
            assert finding["id"] not in text and finding["message"] not in text
        block = text.split(f"\n## {report['case']['title']}\n", 1)[1].split("\n## ", 1)[0]
        assert f"**Verdict: {report['verdict'].upper()}" in block
        rows = {row[0]: row[1:] for row in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in block.splitlines() if line.startswith("| ") and "concern" not in line)}
        concerns = {}
        for f in report["findings"]:
            column = f["severity"] if f["kind"] == "risk" else "strengths"
            counts = concerns.setdefault(f["concern"].replace("_", " ").capitalize(), {})
            counts[column] = counts.get(column, 0) + 1
        assert rows == {name: [str(counts.get(c, 0)) for c in
                               ("critical", "high", "medium", "low", "info", "strengths")]
                        for name, counts in concerns.items()}
    assert "<details>" not in text and len(text) < 20_000


def test_the_table_summary_counts_per_concern_without_the_findings():
    result = assess(ALLY, "--summary")
    report = json.loads(assess(ALLY, "--format", "json").stdout)
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["concern", "critical", "high", "medium", "low", "info",
                                "strengths"]
    first = report["findings"][0]
    column = ["critical", "high", "medium", "low", "info"].index(first["severity"]) + 1
    row = lines[3].split()
    assert row[0] == first["concern"] and int(row[column]) == sum(
        1 for f in report["findings"] if f["concern"] == first["concern"]
        and f["kind"] == "risk" and f["severity"] == first["severity"])
    for finding in report["findings"]:
        assert finding["id"] not in result.stdout and finding["title"] not in result.stdout
    assert any(line.startswith(f"Verdict: {report['verdict'].upper()}") for line in lines)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif", "junit"])
def test_formats_without_a_summary_refuse_it(fmt):
    result = run_cli("assess", ALLY, "--format", fmt, "--summary")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"diplo: error: --summary: format {fmt} does not take it; it is "
                             "for the markdown and table formats\n")


def test_only_the_memo_takes_a_length_limit():
    result = run_cli("assess", ALLY, "--max-chars", "1000")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("diplo: error: --max-chars: format table does not take it; it is "
                             "for the markdown format\n")


# --- the length limit --------------------------------------------------------------------------

def test_a_batch_far_over_the_limit_is_cut_at_whole_findings_and_says_how_many(ally):
    reports = copies(many_findings(ally), 40)
    memo = formats.get("markdown")
    whole = memo.reports(reports, max_chars=0)
    assert len(whole) > 4 * DEFAULT_MAX_CHARS
    text = memo.reports(reports)
    assert len(text) <= DEFAULT_MAX_CHARS
    # every case keeps its verdict; each finding shown is whole
    assert text.count("**Verdict: FAIL (1 critical, 4 high, 5 medium, 5 low risks") == 40
    assert text.count("<details>") == text.count("</details>")
    shown = text.count("\n- **")
    note = re.search(r"^> \*\*Shortened\*\* to stay under 60,000 characters: left out are "
                     r"(\d+) of 600 risks \(the least severe\) and 120 of 120 strengths\. "
                     r".*`--max-chars 0`.*`--format json`", text, re.M)
    assert note, text[:2000]
    assert int(note.group(1)) + 120 == 40 * 18 - shown
    # the least severe go first: every critical risk is kept, then high ones as they fit
    assert text.count("- **critical**") == 40 and 0 < text.count("- **high**") < 160
    assert "- **medium**" not in text and "- **low**" not in text
    # each case says what of it is left out
    per_case = re.findall(r"^\*Left out of this case to keep the memo short: (.+) \(see the "
                          r"note at the top\)\.\*$", text, re.M)
    assert len(per_case) == 40 and per_case[-1].endswith("and 3 strengths")
    assert valid_outline(headings(text))


def test_when_even_the_verdicts_do_not_fit_whole_cases_are_left_out(ally):
    text = formats.get("markdown").reports(copies(many_findings(ally), 400))
    assert len(text) <= DEFAULT_MAX_CHARS
    kept = len(re.findall(r"^## Case \d+$", text, re.M))
    assert 0 < kept < 400
    assert re.search(rf"left out are 6000 of 6000 risks, 1200 of 1200 strengths and "
                     rf"{400 - kept} of 400 cases \(their verdicts too\)\.", text)


def test_the_limit_counts_what_follows_the_memo(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [\n", encoding="utf-8")
    result = run_cli("assess", *CASES, broken, "--format", "markdown", "--max-chars", "12000")
    assert result.exit_code == 2
    assert len(result.stdout) <= 12_000 and "> **Shortened**" in result.stdout
    assert str(broken) in result.stdout.split("\n## Cases that could not be assessed\n")[1]


def test_the_batch_of_every_example_case_fits():
    text = assess(*CASES, "--format", "markdown").stdout
    assert len(text) <= DEFAULT_MAX_CHARS
    whole = assess(*CASES, "--format", "markdown", "--max-chars", "0").stdout
    assert "Shortened" not in whole
    if len(whole) <= DEFAULT_MAX_CHARS:
        assert text == whole
    else:   # the note is at the top, before the first case
        assert "> **Shortened**" in text.split("\n## ")[0]


def test_a_single_memo_under_the_limit_is_unchanged_by_it():
    plain = assess(ALLY, "--format", "markdown").stdout
    assert assess(ALLY, "--format", "markdown", "--max-chars", "0").stdout == plain
    cut = assess(ALLY, "--format", "markdown", "--max-chars", "3000").stdout
    assert len(cut) <= 3000 and cut.startswith("# Assessment: Country A")
    assert "> **Shortened** to stay under 3,000 characters" in cut


# --- the table: ids and proof trees ------------------------------------------------------------

def test_short_ids_stay_unique():
    middle = "x" * 40
    ids = [f"DD-A-001:{middle}{n}{middle}" for n in range(3)] + ["DD-B-002:short"]
    shown = short_ids(ids, width=20)
    assert shown["DD-B-002:short"] == "DD-B-002:short"
    assert len(set(shown.values())) == len(ids)
    for id, text in shown.items():
        if text != id:
            head, tail = text.split("\u2026")
            assert id.startswith(head) and id.endswith(tail) and len(text) < len(id)


def test_the_table_shows_each_findings_id_and_details_the_full_one(ally):
    table = assess(ALLY).stdout
    details = assess(ALLY, "--details").stdout
    shown = short_ids([f.id for f in ally.findings])
    rows = [line for line in table.splitlines() if re.match(r"\d+ ", line)]
    assert len(rows) == len(ally.findings)
    for row, finding in zip(rows, ally.findings):
        assert row.split()[1] == shown[finding.id]
        assert len(shown[finding.id]) <= 32
        assert f"[{finding.id}]" in details
    assert [f.id for f in ally.findings if len(f.id) > 32] == [
        f.id for f in ally.findings if "\u2026" in shown[f.id]]


def test_explain_accepts_the_id_the_details_show():
    details = assess(ALLY, "--details").stdout
    ids = re.findall(r"^\d+\. \[(\S+)\]", details, re.M)
    report = json.loads(assess(ALLY, "--format", "json").stdout)
    assert ids == [f["id"] for f in report["findings"]]
    for id in (ids[0], ids[-1]):
        result = run_cli("explain", ALLY, id)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"{id}  [")


def test_explain_in_the_table_prints_each_findings_proof_tree_under_it(ally):
    text = assess(ALLY, "--explain").stdout
    plain = assess(ALLY).stdout
    assert text.startswith(plain.rsplit("\nVerdict:", 1)[0])   # the same table, then the trees
    entries = re.split(r"^(?=\d+\. )", text.split("\n\n", 1)[1].rsplit("\nVerdict:", 1)[0],
                       flags=re.M)[1:]
    assert len(entries) == len(ally.findings)
    for number, (entry, finding) in enumerate(zip(entries, ally.findings), 1):
        tree = proof_lines(ally, finding)
        assert entry.splitlines() == [f"{number}. {tree[0]}"] + [f"   {t}" for t in tree[1:]]
    assert any("   └─ " in entry for entry in entries)   # derived facts under a finding
    both = assess(ALLY, "--explain", "--details").stdout
    first = both.split("\n2. ", 1)[0]
    finding = ally.findings[0]
    assert f"1. [{finding.id}] " in first and f"   Remedy: {finding.remediation}" in first
    tree = proof_lines(ally, finding)
    assert "\n".join(f"   {line}" for line in tree) in first


def test_the_proof_tree_of_the_table_and_the_memo_is_the_same(ally):
    memo = formats.get("markdown").reports([ally])
    table = formats.get("table").reports([ally])
    for finding in ally.findings:
        tree = proof_lines(ally, finding)
        assert "\n".join(f"  {line}" for line in tree) in memo
        assert "\n".join(f"   {line}" for line in tree[1:]) in table


# --- JSON Lines --------------------------------------------------------------------------------

def test_jsonl_is_the_json_reports_one_per_line():
    lines = assess(*CASES, "--format", "jsonl").stdout.splitlines()
    reports = json.loads(assess(*CASES, "--format", "json").stdout)
    assert [json.loads(line) for line in lines] == reports
    assert all(line.startswith("{") and ": " not in line[:40] for line in lines)
    one = assess(ALLY, "--format", "jsonl", "--explain").stdout
    assert one.count("\n") == 1
    assert json.loads(one) == json.loads(assess(ALLY, "--format", "json", "--explain").stdout)


def test_jsonl_leaves_out_unreadable_cases_and_exits_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [\n", encoding="utf-8")
    result = run_cli("assess", ALLY, broken, BALANCED, "--format", "jsonl")
    assert result.exit_code == 2
    assert [json.loads(line)["case"]["source"] for line in result.stdout.splitlines()] == [
        ALLY, BALANCED]
    assert result.stderr.startswith(f"diplo: error: {broken}:") and result.stderr.count("\n") == 1


def test_jsonl_with_jobs_is_the_same():
    one = assess(*CASES, "--format", "jsonl")
    two = assess(*CASES, "--format", "jsonl", "--jobs", "2")
    assert one.stdout == two.stdout


def test_jsonl_writes_each_line_as_its_case_is_assessed(monkeypatch):
    events = []
    assess_file = engine.api._assess_file

    def recorded(path, *args):
        events.append(("assess", path))
        return assess_file(path, *args)

    import engine.review.gate as gate
    render = gate.render

    def rendered(format_name, reports, **options):
        events.append(("write", reports[0].case.source))
        return render(format_name, reports, **options)

    monkeypatch.setattr(engine.api, "_assess_file", recorded)
    monkeypatch.setattr(gate, "render", rendered)
    assess(ALLY, BALANCED, CASES[0], "--format", "jsonl")
    assert events == [("assess", ALLY), ("write", ALLY), ("assess", BALANCED),
                      ("write", BALANCED), ("assess", CASES[0]), ("write", CASES[0])]


def test_jsonl_into_a_file_is_written_atomically_as_lines_arrive(tmp_path, monkeypatch):
    target = tmp_path / "reports.jsonl"
    target.write_text("the previous reports\n", encoding="utf-8")
    seen = []
    assess_file = engine.api._assess_file

    def looking(path, *args):
        # while the batch goes on, the file is as it was and the lines so far are in a
        # temporary file beside it
        temps = [p for p in tmp_path.iterdir() if p != target]
        seen.append((target.read_text(encoding="utf-8"),
                     [t.read_text(encoding="utf-8").count("\n") for t in temps]))
        return assess_file(path, *args)

    monkeypatch.setattr(engine.api, "_assess_file", looking)
    result = assess(ALLY, BALANCED, "--format", "jsonl", "-o", target)
    assert (result.stdout, result.stderr) == ("", "")
    assert seen == [("the previous reports\n", []), ("the previous reports\n", [1])]
    assert [json.loads(line)["case"]["source"]
            for line in target.read_text(encoding="utf-8").splitlines()] == [ALLY, BALANCED]
    assert [p.name for p in tmp_path.iterdir()] == ["reports.jsonl"]


def test_jsonl_into_a_file_when_no_case_can_be_read_leaves_it(tmp_path):
    target = tmp_path / "reports.jsonl"
    target.write_text("the previous reports\n", encoding="utf-8")
    result = run_cli("assess", tmp_path / "missing.yaml", "--format", "jsonl", "-o", target)
    assert result.exit_code == 2
    assert target.read_text(encoding="utf-8") == "the previous reports\n"
    assert [p.name for p in tmp_path.iterdir()] == ["reports.jsonl"]


def test_the_iterator_gives_each_outcome_before_the_batch_ends(pack, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(json.dumps(dict(BASE_CASE, fiscal_year="next")), encoding="utf-8")
    paths = [ALLY, str(broken), BALANCED]
    done = []
    seen = []
    for report, error in iter_assess_each(paths, pack, progress=done.append):
        seen.append((len(done), report is not None, error is not None))
    # each outcome comes as soon as its case is done, before the next is started
    assert seen == [(1, True, False), (2, False, True), (3, True, False)]
    assert [(r is None, e is None) for r, e in assess_each(paths, pack)] == [
        (False, True), (True, False), (False, True)]


def test_the_iterator_stops_at_the_first_error_when_asked(pack, tmp_path):
    paths = [ALLY, str(tmp_path / "missing.yaml"), BALANCED]
    outcomes = list(iter_assess_each(paths, pack, stop_at_error=True))
    assert len(outcomes) == 2 and outcomes[1][1] is not None


# --- the documentation shows real output of the table and the memo -------------------------

SHOWN = [("README.md", "diplo assess cases/ally-trims-exercises.yaml --exit-zero"),
         ("docs/review-workflows.md", "diplo assess cases/ally-trims-exercises.yaml --exit-zero"),
         ("docs/report-format.md",
          "diplo assess cases/ally-trims-exercises.yaml --explain --exit-zero"),
         ("docs/review-workflows.md",
          "diplo assess cases/ally-trims-exercises.yaml --format markdown"),
         ("docs/transparency-plus.md",
          "diplo assess --pack transparency-plus cases/aggregate-publication.yaml")]


@pytest.mark.parametrize("doc, command", SHOWN)
def test_the_documentation_shows_the_table_as_it_is(doc, command):
    from test_tutorial import matches   # `...` stands for any lines, as in the tutorial
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    start = lines.index(f"$ {command}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(("```", "$ ")))
    result = run_cli(*shlex.split(command)[1:])
    assert result.exit_code in (0, 1), result.stderr
    actual = result.stdout.splitlines()
    assert matches(lines[start:end], actual), (
        f"{doc} shows under `{command}`:\n" + "\n".join(lines[start:end])
        + "\n\nbut it prints:\n" + "\n".join(actual))
