"""Analyses of assessments: proof trees, why a rule did or did not fire and near misses,
remedies, what-if comparisons, sweeps, and editing a case by field path. Each answer comes from
the same compiled rules, never from a second model of them.
May import: engine.core, engine.formats, engine.lang, engine.inputs, engine.errors, engine.model;
not engine.review or engine.authoring."""
