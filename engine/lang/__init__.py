"""The rule language: the files of a pack as written (spec), finding and reading packs
(manifest, registry, loader), the vocabulary of fact kinds and fields rules match (kinds),
expressions and message templates, and the analysis that checks and resolves packs loaded
together into the model the compiler takes (analyse, typecheck, pack). Nothing here runs a rule.
May import: engine.inputs, engine.errors, engine.model."""
