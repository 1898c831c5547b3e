"""Review workflows around an assessment: waivers (accepted risks with an owner and an expiry),
baselines (only new or worse risks count), and the gate (applying both, rendering a batch with its
notes and summary, writing the output atomically).
May import: engine.formats, engine.core, engine.lang, engine.inputs, engine.errors, engine.model;
not engine.analysis or engine.authoring."""
