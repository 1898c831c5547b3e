"""Assessing a case: the facts a case contributes, the translation of analysed rules into the
rule engine's language, the compiled pack that runs them in durable-rules (compile.py is the only
importer of durable), and building the report from what the rules emitted.
May import: engine.lang, engine.inputs, engine.errors, engine.model."""
