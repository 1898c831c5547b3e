"""One rule in full, as `diplo rules show RULE` prints it: what it is, its conditions, message
and remedy as written, the parameters it reads with their values and sources, the guidance it
cites, where it is, and the tests beside the packs that name it."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UsageError
from ..inputs.validation import did_you_mean
from ..lang import expr as ex
from ..lang.pack import PackSet, Rule
from ..lang.spec import ParamValue
from ..model import SeverityChange
from .packtest import collect


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Frozen):
    fact: str
    as_: str = Field(alias="as")
    negated: bool
    where: str | None


class Parameter(_Frozen):
    name: str
    value: ParamValue
    unit: str
    description: str
    source: str
    pack: str                               # the pack that declares it
    declared: ParamValue | None = None      # that pack's own value, when this run's differs


class TestRef(_Frozen):
    __test__ = False   # a data model, not something for pytest to collect

    file: str
    line: int | None
    name: str
    checks: list[Literal["expect", "absent"]]   # how the test names the rule


class GuidanceCitation(_Frozen):
    section: str
    heading: str | None
    quote: str


class RuleDetail(_Frozen):
    id: str
    title: str
    pack: str
    kind: Literal["derive", "risk", "strength"]
    severity: str | None
    severity_override: SeverityChange | None
    concern: str | None
    tags: list[str]
    description: str | None
    conditions: list[Condition]
    let: dict[str, str]
    derives: str | None
    fields: dict[str, str]                   # of the fact it derives
    message: str | None
    remediation: str | None
    parameters: list[Parameter]
    citation: GuidanceCitation
    file: str
    line: int | None
    disabled_by: str | None                  # who left it out of this run, if anyone
    tests: list[TestRef]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def rule_detail(pack: PackSet, rule_id: str) -> RuleDetail:
    """The rule `rule_id` of a loaded pack set, in full (also when this run disabled it).

    UsageError, with the id meant, for an id no loaded pack has; a DiploError naming the file
    for a test file of a loaded pack that cannot be read."""
    rules = {r.id: r for p in pack.packs for r in p.rules}
    rule = rules.get(rule_id)
    if rule is None:
        raise UsageError(f"no rule '{rule_id}' is loaded{did_you_mean(rule_id, rules)}",
                         path="RULE")
    report = rule.report
    change = pack.severity_overrides.get(rule.id)
    return RuleDetail(
        id=rule.id, title=rule.title, pack=rule.pack, kind=rule.kind,
        severity=report.severity if report else None,
        severity_override=None if change is None else SeverityChange(default=change.default,
                                                                      by=change.by),
        concern=report.concern if report else None, tags=list(rule.tags),
        description=_text(rule.description) if rule.description else None,
        conditions=[Condition(fact=p.kind, as_=p.name, negated=p.negated,
                              where=_where(p)) for p in rule.patterns if not p.implicit],
        let={name: _written(rule, f"let.{name}", node) for name, node in rule.lets.items()},
        derives=rule.derive_kind,
        fields={name: _written(rule, f"derive.{name}", node)
                for name, node in rule.derive_fields.items()},
        message=_text(report.message) if report else None,
        remediation=_text(report.remediation) if report and report.remediation else None,
        parameters=_parameters(pack, rule),
        citation=GuidanceCitation(section=rule.citation.section,
                                  heading=_heading(pack, rule), quote=rule.citation.quote),
        file=_display(rule.at.file), line=rule.at.line,
        disabled_by=pack.disabled.get(rule.id), tests=_tests(pack, rule.id))


def _text(text: str) -> str:
    # folded YAML keeps line breaks a reader never meant
    return re.sub(r"\s+", " ", text).strip()


def _where(pattern) -> str | None:
    if pattern.text is not None:
        return _text(pattern.text)
    return ex.unparse(pattern.where) if pattern.where is not None else None


def _written(rule: Rule, key: str, node: ex.Node) -> str:
    value = rule.written.get(key)
    return _text(value) if isinstance(value, str) else ex.unparse(node)


def _parameter_names(rule: Rule) -> list[str]:
    nodes = [p.where for p in rule.patterns if p.where is not None]
    nodes += list(rule.lets.values()) + list(rule.derive_fields.values())
    names = [n.name for node in nodes for n in ex.walk(node) if isinstance(n, ex.Param)]
    for template in (rule.message, rule.remediation):
        names += [p.name[1:] for p in (template.placeholders if template else ())
                  if p.name.startswith("$")]
    return list(dict.fromkeys(names))


def _parameters(pack: PackSet, rule: Rule) -> list[Parameter]:
    own = next(p for p in pack.packs if p.name == rule.pack)
    found = []
    for name in _parameter_names(rule):
        owner = next((p for p in [own] + own.ancestors if name in p.manifest.parameters),
                     None)
        if owner is None:
            continue
        spec = pack.parameters[owner.name][name]
        declared = owner.manifest.parameters[name].value
        found.append(Parameter(name=name, value=spec.value, unit=_text(spec.unit),
                               description=_text(spec.description),
                               source=_text(spec.source), pack=owner.name,
                               declared=None if declared == spec.value else declared))
    return found


def _heading(pack: PackSet, rule: Rule) -> str | None:
    own = next(p for p in pack.packs if p.name == rule.pack)
    for candidate in [own] + own.ancestors:
        guidance = candidate.manifest.guidance
        if guidance is not None and rule.citation.section in guidance.sections:
            return guidance.sections[rule.citation.section].heading
    return None


def _tests(pack: PackSet, rule_id: str) -> list[TestRef]:
    """The tests of every loaded pack that name the rule, in file order."""
    found = []
    for each in pack.packs:
        for test in collect(each.root):
            checks = [group for group in ("expect", "absent")
                      if any(p.rule == rule_id for p in getattr(test.spec, group))]
            if checks:
                found.append(TestRef(file=test.file, line=test.line, name=test.spec.name,
                                     checks=checks))
    return found


def _display(path: str) -> str:
    """A path relative to the working folder when inside it, as the test runner shows it."""
    try:
        resolved = Path(path).resolve()
        return os.path.relpath(resolved) if resolved.is_relative_to(Path.cwd().resolve()) \
            else str(path)
    except (OSError, ValueError):
        return str(path)
