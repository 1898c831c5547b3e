"""For pack authors: lint (what the loader refuses and what it accepts but is almost certainly
wrong), rule tests beside the rules, and scaffolding a new pack.
May import: engine.formats, engine.core, engine.lang, engine.inputs, engine.errors, engine.model;
not engine.analysis or engine.review."""
