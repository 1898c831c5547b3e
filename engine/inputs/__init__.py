"""Reading what users write: YAML, JSON and TOML with the line and column of every value, case
files validated into the case model, and validation messages that name file, line, column and
field path with a hint. May import: engine.errors, engine.model."""
