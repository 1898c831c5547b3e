"""The report contract as JSON: one report object, or an array when several cases are given."""
from __future__ import annotations

import json

from . import register


@register
class JsonFormat:
    name = "json"
    description = "the report format of the specification (an array for several cases)"

    def reports(self, reports, *, details=False, **options) -> str:
        if len(reports) == 1:
            return reports[0].to_json()
        items = [json.loads(report.to_json()) for report in reports]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"

    def rules(self, rules) -> str:
        return json.dumps([rule.model_dump() for rule in rules], indent=2,
                          ensure_ascii=False) + "\n"

    def rule(self, detail) -> str:
        return detail.to_json()

    def comparison(self, comparison) -> str:
        return comparison.to_json()

    def sweep(self, sweep) -> str:
        return sweep.to_json()
