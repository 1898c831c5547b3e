"""HTML: one self-contained page a minister's office or a committee can be sent.

The verdict and counts come first; then charts (findings by concern and severity, the proposal
against last year in real terms by category and by line, the case's benchmarks against their
guidelines), each finding with its message, remedy, guidance quote, folded effects and a
collapsible proof tree, and what could not be checked. A batch opens with a portfolio: a heat
map of cases against concerns, worst first, linking to each case below.

The page is a jinja2 template with autoescaping (every text from a case or a pack is escaped)
and inline CSS; its charts are SVG written by `html_charts`. It makes no request when opened,
works offline and prints to PDF as shown. `render_page` renders reports given as data (a
service passes the figures it computed with `html_figures.case_figures`); the format reads the
case files again for them when it is not given them. Both jinja2 and this module are imported
only when HTML is asked for (`pip install "diplo[html]"`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import SEVERITIES
from . import finding_severity, gate_findings, register
from .caveats import coverage_line, ranges_line, robustness_of, robustness_text, \
    sources_lines, warning_line
from .html_charts import SEVERITY_ORDER, benchmark_chart, change_chart, findings_chart, \
    heat_map
from .html_figures import CaseFigures, figures_from_files
from .table import packs_text, summary_text

TEMPLATES = Path(__file__).parent / "templates"
_VERDICT_RANK = {"fail": 2, "warn": 1, "pass": 0}


def _environment():
    try:
        import jinja2
    except ImportError:
        raise UsageError('the html format needs jinja2: pip install "diplo[html]"',
                         path="--format") from None
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["words"] = lambda text: str(text).replace("_", " ")
    return env


def _proof(report, finding) -> dict | None:
    """The proof tree of a finding as nested data, from the report's facts alone (as
    formats/tree.py draws it): each node with its lines and its children."""
    if report.facts is None:
        return None
    facts = {fact.id: fact for fact in report.facts}

    def made_by(node, quote: bool) -> list[str]:
        lines = [f"by rule {node.rule} ({node.pack}), guidance {node.citation.section}"
                 + (f": \u201c{node.citation.quote}\u201d" if quote else "")]
        if node.parameters:
            lines.append("parameters: " + ", ".join(
                f"${k} = {_show(v)}" for k, v in node.parameters.items()))
        if node.inputs:
            lines.append("case fields: " + ", ".join(node.inputs))
        return lines

    def fact_node(fact_id: str, above: tuple) -> dict:
        fact = facts.get(fact_id)
        if fact is None or fact_id in above:
            return {"id": fact_id, "head": "not in the report" if fact is None
                    else "shown above", "lines": [], "children": []}
        lines = []
        if fact.fields:
            lines.append("fields: " + ", ".join(f"{k} = {_show(v)}"
                                                for k, v in fact.fields.items()))
        return {"id": fact.id, "head": f"derived {fact.kind}", "lines": lines + made_by(fact,
                                                                                      True),
                "children": [fact_node(b, above + (fact_id,)) for b in fact.because]}

    return {"id": finding.id, "head": finding_severity(finding),
            "lines": made_by(finding, False),
            "children": [fact_node(b, ()) for b in finding.because]}


def _show(value: Any) -> str:
    from . import show_value
    return ", ".join(show_value(v) for v in value) if isinstance(value, list) \
        else show_value(value)


def _anchor(text: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "case"


def _concern_counts(report) -> list[tuple[str, dict[str, int]]]:
    counts: dict[str, dict[str, int]] = {}
    for f in report.findings:
        key = f.severity if f.kind == "risk" else "strength"
        row = counts.setdefault(f.concern, {})
        row[key] = row.get(key, 0) + 1
    return list(counts.items())


def _case_view(report, figures: CaseFigures | None, index: int, fail_on: str) -> dict:
    prefix = f"c{index}"
    charts = []

    def chart(draw, name: str, title: str, *args) -> dict:
        return {"title": title, "svg": draw(f"{prefix}-{name}", title, *args)}

    if report.findings:
        charts.append(chart(findings_chart, "findings", "Findings by concern and severity",
                            _concern_counts(report)))
    if figures is not None:
        what = ("in real terms (last year's amounts in this year's prices, at "
                f"{figures.inflation_pct:g}% inflation)" if figures.inflation_pct is not None
                else "in nominal terms (the case states no inflation)")
        by_category = [bar.model_copy(update={"label": bar.label.replace("_", " ")})
                       for bar in figures.categories]
        charts.append(chart(change_chart, "categories", f"Proposal against last year by "
                            f"category, {what}", by_category, figures.currency, figures.unit,
                            figures.inflation_pct))
        charts.append(chart(benchmark_chart, "benchmarks", "Benchmarks against their "
                            "guidelines", figures.benchmarks))
        line_chart = chart(change_chart, "lines", f"Proposal against last year by line item, "
                           f"{what}", figures.lines, figures.currency, figures.unit,
                           figures.inflation_pct)
    else:
        line_chart = None
    findings = []
    for f in report.findings:
        robust = robustness_of(report, f.id)
        findings.append({
            "f": f, "severity": finding_severity(f),
            "css": f.severity if f.kind == "risk" else "strength",
            "anchor": f"{prefix}-{_anchor(f.id)}",
            "robustness": robustness_text(robust) if robust is not None else None,
            "proof": _proof(report, f),
        })
    gate = gate_findings(report, fail_on)
    return {
        "report": report, "anchor": f"case-{_anchor(report.case.id)}",
        "summary": summary_text(report.verdict, report.summary).partition(" ")[2],
        "packs": packs_text(report.packs), "gate": gate, "fail_on": fail_on,
        "charts": charts, "line_chart": line_chart, "findings": findings,
        "figures_missing": figures is None,
        "coverage": [coverage_line(e) for e in report.coverage],
        "warnings": [warning_line(w) for w in report.warnings],
        "ranges": ranges_line(report), "sources": sources_lines(report),
        "explained": report.facts is not None,
    }


def _worst_key(report) -> tuple:
    worst = report.worst_risk()
    return (-_VERDICT_RANK[report.verdict], -(SEVERITIES.index(worst) + 1 if worst else 0),
            -sum(f.kind == "risk" for f in report.findings), report.case.id)


def _portfolio(reports, views) -> dict:
    order = sorted(range(len(reports)), key=lambda i: _worst_key(reports[i]))
    concerns: dict[str, int] = {}
    cells = {}
    for i, report in enumerate(reports):
        for f in report.findings:
            rank = SEVERITY_ORDER.index(f.severity) if f.kind == "risk" else len(SEVERITY_ORDER)
            concerns[f.concern] = min(concerns.get(f.concern, 99), rank)
            worst, count = cells.get((str(i), f.concern), (None, 0))
            key = f.severity if f.kind == "risk" else "strength"
            if worst is None or (SEVERITY_ORDER + ("strength",)).index(key) < \
                    (SEVERITY_ORDER + ("strength",)).index(worst):
                worst = key
            cells[(str(i), f.concern)] = (worst, count + 1)
    columns = sorted(concerns, key=lambda c: (concerns[c], c))
    rows = [(str(i), reports[i].case.id, f"#{views[i]['anchor']}") for i in order]
    title = "Cases against concerns, worst case first"
    chart = heat_map("portfolio-heat-map", title, rows, columns, cells)
    return {"chart": {"title": title, "svg": chart}, "order": [views[i] for i in order]}


def render_page(reports, *, figures: dict[str, CaseFigures | dict] | None = None,
                fail_on: str = "high", unreadable=(), title: str | None = None) -> str:
    """The HTML page of `reports` (Report objects); `figures` by case source or id (a
    CaseFigures or its dump) draw the budget charts of the cases that have them."""
    from .. import __version__
    figures = {key: CaseFigures.model_validate(value) if isinstance(value, dict) else value
               for key, value in (figures or {}).items()}
    views = [_case_view(r, figures.get(r.case.source or "") or figures.get(r.case.id), i,
                        fail_on) for i, r in enumerate(reports, 1)]
    batch = len(reports) > 1 or bool(unreadable)
    overall = max((r.verdict for r in reports), key=_VERDICT_RANK.__getitem__, default="pass")
    template = _environment().get_template("report.html.j2")
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return template.render(
        title=title or (f"Assessment: {len(reports)} cases" if batch else
                        f"Assessment: {reports[0].case.title}" if reports else "Assessment"),
        batch=batch, cases=views, portfolio=_portfolio(reports, views) if batch else None,
        overall=overall, unreadable=[str(e) for e in unreadable], css=css,
        version=__version__, severities=SEVERITY_ORDER) + ""


@register
class HtmlFormat:
    name = "html"
    description = ("one self-contained HTML page: verdict first, charts, findings with proof "
                   "trees; a batch opens with a portfolio heat map")
    needs_facts = True          # every finding's proof tree: `diplo assess` assesses with them
    shows_unreadable = True

    def reports(self, reports, *, details=False, fail_on: str = "high", figures=None,
                unreadable=(), **options) -> str:
        """`figures`: the CaseFigures of the cases by source or id; when not given, the case
        files are read again for them (a case from standard input has no budget charts)."""
        if figures is None:
            figures = figures_from_files(reports)
        return render_page(reports, figures=figures, fail_on=fail_on, unreadable=unreadable)

    def rules(self, rules) -> str:
        raise UsageError("format html shows assessments; list rules as table, json or "
                         "markdown", path="--format")
