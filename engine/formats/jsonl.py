"""JSON Lines: one report per line, for batches too large to hold as one JSON array.

Each line is the report of `--format json`, compact (no indentation, no line break inside), in
the order of the cases. The format `streams`: a batch is its reports rendered one at a time, so
`diplo assess` writes each line as soon as its case is assessed and reviewed, and a reader can
start before the batch ends.
"""
from __future__ import annotations

import json

from . import register


def line(item: str) -> str:
    """JSON text (one value, as a model's `to_json` gives it) as one line."""
    return json.dumps(json.loads(item), ensure_ascii=False, separators=(",", ":")) + "\n"


@register
class JsonlFormat:
    name = "jsonl"
    description = "one compact JSON report per line, written as each case is assessed"
    streams = True

    def reports(self, reports, *, details=False, **options) -> str:
        return "".join(line(report.to_json()) for report in reports)

    def rules(self, rules) -> str:
        return "".join(json.dumps(rule.model_dump(mode="json"), ensure_ascii=False,
                                  separators=(",", ":")) + "\n" for rule in rules)
