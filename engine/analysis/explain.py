"""One explanation of a case, as `diplo explain` gives it: proof trees of its findings, why a
rule did or did not fire, and the remedies that clear its risks."""
from __future__ import annotations

from ..lang.pack import PackSet
from ..model import Case
from ..model import FrozenModel
from .proof import ProofNode, proof, render_proof
from .remedies import Remedies, remedies, render_remedies
from .whynot import WhyNot, render_why_not, why_not

# --- one call for the command line ------------------------------------------------------------

class Explanation(FrozenModel):
    case: str
    source: str | None = None
    proofs: list[ProofNode] | None = None
    why_not: WhyNot | None = None
    remedies: list[Remedies] | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def explain_case(case: Case, pack: PackSet, *, finding_id: str | None = None,
                 rule: str | None = None, with_remedies: bool = False) -> Explanation:
    """Proof trees (all findings or one), or why a rule did not fire, and optionally the
    changes that clear each risk."""
    from ..core.run import assess
    report = assess(case, pack, explain=True)
    proofs = why = fixes = None
    if rule is not None:
        why = why_not(rule, case, pack, report)
    else:
        proofs = proof(report, case, pack, finding_id)
    if with_remedies:
        fixes = remedies(case, pack, report, finding_id=finding_id)
    return Explanation(case=case.id, source=case.source, proofs=proofs, why_not=why,
                       remedies=fixes)


def render_explanation(explanation: Explanation) -> str:
    parts = []
    if explanation.proofs is not None:
        parts.append(render_proof(explanation.proofs) if explanation.proofs
                     else "No findings to explain.\n")
    if explanation.why_not is not None:
        parts.append(render_why_not(explanation.why_not))
    if explanation.remedies is not None:
        parts.append("Changes that clear each risk (each verified by assessing the changed "
                     "case):\n" + (render_remedies(explanation.remedies)
                                    if explanation.remedies else "No risks.\n"))
    return "\n".join(parts)
