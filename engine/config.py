"""The project configuration file: `diplo.toml`, or a `[tool.diplo]` table in pyproject.toml.

Found from the working directory upwards, it sets a repository's defaults for the options of
diplo's commands: packs, parameters, disabled rules, the rules that report (`select` and
`ignore`), severity overrides, `--fail-on`, the waivers file and the output format. A value
given on the command line wins over the file, and the file over diplo's built-in defaults;
`effective_settings` works that out once, with where each value came from
(docs/configuration.md).

No click or printing here: the CLI passes the values it was given and renders the result.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .errors import ConfigError, DiploError, InputError, PackError, UsageError
from .inputs.found import check_link, quotable, shown_name, withheld
from .inputs.source import Document, read_text
from .inputs.toml import key_positions, nearest_line, parse_toml
from .inputs.validation import describe, did_you_mean, validate
from .model import SEVERITIES

CONFIG_NAME = "diplo.toml"
PYPROJECT_NAME = "pyproject.toml"
TOOL_TABLE = ("tool", "diplo")

DEFAULT_FAIL_ON = "high"
DEFAULT_FORMAT = "table"
COMMAND_LINE = "command line"
DEFAULT = "default"

# --- the file's schema -------------------------------------------------------------------

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Whole = Annotated[int, Field(ge=-10**15, le=10**15)]
ParamValue = Union[bool, Whole, Number, str, list[str]]
Level = Literal["info", "low", "medium", "high", "critical"]


class ConfigModel(BaseModel):
    """The settings a configuration file may hold; every key is optional."""

    # defer_build: the validator is built when a configuration file is first read; without
    # one, `effective_settings` takes the defaults from `model_construct`
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    packs: Annotated[list[Text], Field(min_length=1)] | None = None
    params: dict[Text, ParamValue] | None = None
    disable: list[Text] | None = None
    severity: dict[Text, Level] | None = None
    fail_on: Level | None = Field(None, alias="fail-on")
    waivers: Text | None = None
    format: Text | None = None
    select: list[Text] | None = None    # selectors: engine.lang.selection
    ignore: list[Text] | None = None


KEYS = tuple(info.alias or name for name, info in ConfigModel.model_fields.items())


@dataclass(frozen=True)
class ProjectConfig:
    """A configuration file that was read and validated."""

    path: Path                  # absolute
    name: str                   # as messages show it: relative to the working directory when
                                # inside it
    table: tuple                # () for diplo.toml, ("tool", "diplo") in a pyproject.toml
    values: ConfigModel
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # key path -> line, col
    text: str = ""

    @property
    def folder(self) -> Path:
        """Where relative paths in the file start."""
        return self.path.parent

    def position(self, *path) -> tuple[int | None, int | None]:
        """(line, column) of a key, or of the nearest enclosing one. An item of an array
        (path ending in an index) is looked for by its text from the array's line on."""
        if path and isinstance(path[-1], int):
            found = self._item(path[:-1], path[-1])
            if found:
                return found
        while True:
            if path in self.keys:
                return self.keys[path]
            if not path:
                return (None, None)
            path = path[:-1]

    def _item(self, array: tuple, index: int) -> tuple[int, int] | None:
        items = getattr(self.values, array[0].replace("-", "_"), None) if len(array) == 1 \
            else None
        start = self.keys.get(array)
        if not isinstance(items, list) or not start or index >= len(items):
            return None
        lines = self.text.splitlines()
        for number in range(start[0], min(len(lines), start[0] + 1000) + 1):
            for quoted in (f'"{items[index]}"', f"'{items[index]}'"):
                column = lines[number - 1].find(quoted)
                if column >= 0 and (number, column + 1) > start:
                    return (number, column + 1)
        return None

    def line(self, *path) -> int | None:
        return self.position(*path)[0]

    def source(self, *path) -> str:
        """Where a setting is, as `file:line`."""
        line = self.line(*path)
        return f"{self.name}:{line}" if line else self.name

    def field_path(self, *path) -> str:
        return _show_path(self.table + tuple(path))

    def error(self, message: str, *path) -> ConfigError:
        line, column = self.position(*path)
        return ConfigError(message, file=self.name, line=line, column=column,
                           path=self.field_path(*path) or None)


# --- finding and reading the file -----------------------------------------------------------

def display_path(path: str | Path) -> str:
    """A path as messages and reports show it: relative to the working directory (a file
    found upwards is `../diplo.toml`), so that a report does not depend on where the
    repository is checked out."""
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    try:
        return os.path.relpath(absolute.resolve(), Path.cwd().resolve())
    except (ValueError, OSError, RuntimeError):   # RuntimeError: a link loop (Python 3.11)
        return str(absolute)


def find_config(start: str | Path | None = None) -> Path | None:
    """The configuration file that applies in `start` (default: the working directory):
    in `start` or the nearest folder above it, `diplo.toml`, else a pyproject.toml that has
    a `[tool.diplo]` table (one without it is passed over). None when there is none.

    Whoever can write a folder chooses what its files are, so a link there is followed only
    while it stays inside the folder it was found in: one that leads out is refused
    (ConfigError, naming the link) before it is read (engine.inputs.found)."""
    folder = Path(start) if start is not None else Path.cwd()
    folder = Path(os.path.abspath(folder.expanduser()))
    for here in (folder, *folder.parents):
        candidate = here / CONFIG_NAME
        if candidate.exists() or candidate.is_symlink():
            _check_found(candidate)
            return candidate     # even when broken: reading it says what is wrong
        pyproject = here / PYPROJECT_NAME
        if pyproject.is_symlink():
            _check_found(pyproject)
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


_INSTEAD = "name it with --config to read it, or give --no-config"


def _check_found(candidate: Path) -> None:
    check_link(candidate, candidate.parent, ConfigError, what="a configuration file",
               instead=_INSTEAD, name=shown_name(candidate))


def read_found_config(path: Path) -> ProjectConfig:
    """`read_config` for the file `find_config` found: when it is a link (staying inside its
    folder, or it would not have been found), errors quote nothing of it."""
    if quotable(path, path.parent):
        return read_config(path)
    try:
        return read_config(path)
    except DiploError as exc:
        raise withheld(exc, ConfigError, file=shown_name(path), what="the configuration file",
                       instead="name it with --config") from None


def _has_tool_table(pyproject: Path) -> bool:
    name = display_path(pyproject)
    text = _read(pyproject, name)
    if "diplo" not in text:   # cheap: most pyproject.toml files never mention diplo
        return False
    try:
        data = parse_toml(text, name)
    except DiploError as exc:
        if quotable(pyproject, pyproject.parent):
            raise
        raise withheld(exc, ConfigError, file=shown_name(pyproject),
                       what="the configuration file", instead="name it with --config") from None
    return isinstance(data.get("tool"), dict) and "diplo" in data["tool"]


def read_config(path: str | Path) -> ProjectConfig:
    """Read and validate a configuration file. A file named pyproject.toml is read for its
    `[tool.diplo]` table, which it must have; any other file holds the settings at its top
    level, as diplo.toml does. ConfigError (with file, line and field) when it is invalid."""
    path = Path(path).expanduser()
    name = display_path(path)
    text = _read(path, name)
    data = parse_toml(text, name)
    keys, values = key_positions(text)
    table: tuple = ()
    if path.name == PYPROJECT_NAME:
        table = TOOL_TABLE
        tool = data.get("tool")
        if not isinstance(tool, dict) or "diplo" not in tool:
            raise ConfigError("has no [tool.diplo] table (the settings of a pyproject.toml "
                              "are in [tool.diplo])", file=name)
        data = tool["diplo"]
        if not isinstance(data, dict):
            line = nearest_line(keys, TOOL_TABLE)
            raise ConfigError(f"expected a table of diplo settings, found {describe(data)}",
                              file=name, line=line, path="tool.diplo")
        keys = {k[2:]: v for k, v in keys.items() if k[:2] == TOOL_TABLE}
        values = {k[2:]: v for k, v in values.items() if k[:2] == TOOL_TABLE}
    doc = Document(name, data, text, values=values, keys=keys)
    _check_keys(doc, table)
    try:
        model = validate(ConfigModel, doc, ConfigError, what="configuration")
    except ConfigError as exc:
        raise _in_toml_words(exc, table) from None
    config = ProjectConfig(Path(os.path.abspath(path)), name, table, model, keys, text)
    if model.format is not None:
        from . import formats
        names = formats.names()
        if model.format not in names:
            raise config.error(f"expected one of {', '.join(names)}, found "
                               f"{describe(model.format)}{did_you_mean(model.format, names)}",
                               "format")
    return config


def _read(path: Path, name: str) -> str:
    try:
        return read_text(path, display=name)
    except InputError as exc:
        raise ConfigError(exc.message, file=exc.file, line=exc.line, column=exc.column,
                          path=exc.path) from None


def _check_keys(doc: Document, table: tuple) -> None:
    """Unknown top-level keys, with the kebab-case key that was meant (pydantic would suggest
    the Python name)."""
    for key in doc.data:
        if key in KEYS:
            continue
        hint = did_you_mean(key, KEYS)
        if key == "tool" and not table:
            hint = (" (in diplo.toml the settings are at the top level; [tool.diplo] is for "
                    "pyproject.toml)")
        line, column = doc.position((key,), key=True)
        raise ConfigError(f"unknown key '{key}'{hint} (known keys: {', '.join(KEYS)})",
                          file=doc.name, line=line, column=column,
                          path=_show_path(table + (key,)))


def _in_toml_words(exc: ConfigError, table: tuple) -> ConfigError:
    """A validation message in TOML's words (table, array), with the field path in the
    file."""
    message = exc.message.replace("a mapping", "a table").replace("a list", "an array")
    path = exc.path
    if table:
        path = "tool.diplo" + (f".{path}" if path and not path.startswith("[") else path or "")
    return ConfigError(message, file=exc.file, line=exc.line, column=exc.column, path=path)


def _show_path(path: tuple) -> str:
    """("severity", "DD-TRA-005") -> "severity.DD-TRA-005"; a key with a dot in it quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = f'"{part}"' if "." in part or not part else part
            text += f".{shown}" if text else shown
    return text


# --- where each key is (tomllib gives no positions) ---------------------------------------


# --- the effective settings ---------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from: "default", "command line" or
    "FILE:LINE" of the configuration file."""

    value: Any
    source: str


@dataclass(frozen=True)
class Settings:
    """What a command runs with: the command line over the configuration file over the
    defaults.

    `packs` holds what to load (pack names, and folders resolved against the folder of the
    file that names them); `params` and `severity` are merged key by key, `disable` and
    `ignore` are the union of both lists, `select` on the command line replaces the file's;
    `waivers` is a path (resolved likewise), or None for the waivers file beside the first
    case (or none at all with `no_waivers`)."""

    config: ProjectConfig | None
    config_origin: str           # "found", "--config", "DIPLO_CONFIG", "--no-config", "none"
    start: Path
    packs: Setting
    params: dict[str, Setting]
    disable: dict[str, Setting]
    severity: dict[str, Setting]
    fail_on: Setting
    format: Setting
    waivers: Setting
    no_waivers: bool = False
    select: dict[str, Setting] = field(default_factory=dict)   # selector -> where given
    ignore: dict[str, Setting] = field(default_factory=dict)

    # -- what the loader and the commands take

    @property
    def pack_specs(self) -> tuple[str, ...]:
        """The packs to load; () for the default pack."""
        return () if self.packs.source == DEFAULT else tuple(self.packs.value)

    @property
    def param_values(self) -> dict:
        return {name: s.value for name, s in self.params.items()}

    @property
    def disabled_rules(self) -> dict[str, str]:
        """Rule id -> where it was disabled (the pack loader shows it in reports)."""
        return {rule: s.source for rule, s in self.disable.items()}

    @property
    def severity_levels(self) -> dict[str, tuple[str, str]]:
        """Rule id -> (level, where it was set)."""
        return {rule: (s.value, s.source) for rule, s in self.severity.items()}

    def load_pack(self):
        """Load and compile the packs with these settings (engine.core.run.load_pack). An error
        caused by a value from the configuration file names the file and line."""
        from .core.run import load_pack
        self._check_config_packs()
        kwargs: dict[str, Any] = {"params": self.param_values or None}
        if self.disable:
            kwargs["disable"] = self.disabled_rules
        if self.severity:
            kwargs["severity"] = self.severity_levels
        if self.select:
            kwargs["select"] = {text: s.source for text, s in self.select.items()}
        if self.ignore:
            kwargs["ignore"] = {text: s.source for text, s in self.ignore.items()}
        try:
            return load_pack(*self.pack_specs, **kwargs)
        except PackError as exc:
            raise self.located(exc) from None

    def waivers_file(self) -> str | None:
        """The waivers file named by the command line or the configuration file, if any.
        One named by the file must exist: a review that counts on it must not pass over
        it silently."""
        if self.no_waivers or self.waivers.value is None:
            return None
        path = self.waivers.value
        if self.config is not None and self.waivers.source != COMMAND_LINE \
                and not Path(path).is_file():
            raise self.config.error(
                f"no such waivers file '{self.config.values.waivers}' (looked for {path})",
                "waivers")
        return path

    def waivers_found_in(self) -> Path | None:
        """The folder of the configuration file that named the waivers file, when diplo
        found that configuration file by itself (not --config or DIPLO_CONFIG): the waivers
        file is then not the operator's choice, and its errors quote nothing of it unless it
        is a regular file in that folder (engine.review.waivers.load_waivers). None otherwise."""
        if (self.config is None or self.config_origin != "found"
                or self.waivers.source in (COMMAND_LINE, DEFAULT)):
            return None
        return self.config.folder

    def located(self, exc: DiploError) -> DiploError:
        """A loader error about a parameter, disabled rule, severity or selector given by the
        configuration file, placed at its line in that file; any other error as it is."""
        match = re.fullmatch(r"--(param|disable|severity|select|ignore) (.+)", exc.path or "")
        if self.config is None or exc.file is not None or not match:
            return exc
        kind, key = match.groups()
        table = {"param": self.params, "disable": self.disable, "severity": self.severity,
                 "select": self.select, "ignore": self.ignore}
        setting = table[kind].get(key)
        if setting is None or setting.source in (COMMAND_LINE, DEFAULT):
            return exc
        if kind in ("disable", "select", "ignore"):
            written = getattr(self.config.values, kind) or []
            index = next((i for i, text in enumerate(written)
                          if key == text or key in (p.strip() for p in text.split(","))),
                         None)
            return self.config.error(exc.message, kind,
                                     *([] if index is None else [index]))
        return self.config.error(exc.message, "params" if kind == "param" else kind, key)

    def _check_config_packs(self) -> None:
        if self.config is None or self.packs.source in (COMMAND_LINE, DEFAULT):
            return
        from .lang.loader import resolve_pack_dir
        written = self.config.values.packs or []
        for i, (spec, as_written) in enumerate(zip(self.packs.value, written)):
            try:
                resolve_pack_dir(spec)
            except PackError as exc:
                raise self.config.error(f"'{as_written}': {exc.message}", "packs", i) \
                    from None

    # -- showing them

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, source), one row per setting, and per key of the merged
        settings."""
        rows = [("packs", ", ".join(self.packs.value), self.packs.source)]
        rows += _keyed_rows("params", self.params) or [("params", "(none)", DEFAULT)]
        rows += [("disable", rule, s.source) for rule, s in self.disable.items()] \
            or [("disable", "(none)", DEFAULT)]
        rows += [("select", text, s.source) for text, s in self.select.items()] \
            or [("select", "(every rule)", DEFAULT)]
        rows += [("ignore", text, s.source) for text, s in self.ignore.items()] \
            or [("ignore", "(none)", DEFAULT)]
        rows += _keyed_rows("severity", self.severity) \
            or [("severity", "(as the packs give)", DEFAULT)]
        rows.append(("fail-on", self.fail_on.value, self.fail_on.source))
        rows.append(("format", self.format.value, self.format.source))
        if self.no_waivers:
            waivers = ("(none: --no-waivers)", COMMAND_LINE)
        elif self.waivers.value is None:
            waivers = ("(diplo-waivers.yaml beside the first case, if any)", DEFAULT)
        else:
            waivers = (self.waivers.value, self.waivers.source)
        rows.append(("waivers", *waivers))
        return rows

    def to_dict(self) -> dict:
        """The settings as JSON data: each {value, source}; the merged settings' source is an
        object with the source of each key."""
        def keyed(settings: dict[str, Setting]) -> dict:
            return {"value": {k: s.value for k, s in settings.items()},
                    "source": {k: s.source for k, s in settings.items()}}
        return {
            "config_file": self.config.name if self.config else None,
            "config_origin": self.config_origin,
            "packs": {"value": list(self.packs.value), "source": self.packs.source},
            "params": keyed(self.params),
            "disable": {"value": list(self.disable),
                        "source": {k: s.source for k, s in self.disable.items()}},
            "select": {"value": list(self.select),
                       "source": {k: s.source for k, s in self.select.items()}},
            "ignore": {"value": list(self.ignore),
                       "source": {k: s.source for k, s in self.ignore.items()}},
            "severity": keyed(self.severity),
            "fail-on": {"value": self.fail_on.value, "source": self.fail_on.source},
            "format": {"value": self.format.value, "source": self.format.source},
            "waivers": {"value": None if self.no_waivers else self.waivers.value,
                        "source": COMMAND_LINE if self.no_waivers else self.waivers.source},
        }


def _keyed_rows(name: str, settings: dict[str, Setting]) -> list[tuple[str, str, str]]:
    return [(_show_path((name, key)), _show_value(s.value), s.source)
            for key, s in settings.items()]


def _show_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def effective_settings(cli: dict | None = None, *, start: str | Path | None = None,
                       config_file: str | Path | None = None, use_config: bool = True,
                       config_origin: str = "--config") -> Settings:
    """The settings a command runs with.

    `cli` holds what the command line gave, by name: `packs` (list), `params` (dict NAME ->
    value), `disable` (list of rule ids), `select` and `ignore` (lists of selectors, each
    text possibly several separated by commas), `severity` (dict RULE -> level), `fail_on`,
    `format`, `waivers` (a path) and `no_waivers` (bool); None or empty means not given.
    The configuration file is `config_file` when given (`config_origin` says how it was given,
    for `diplo config`), else the one `find_config(start)` finds, unless `use_config` is
    false. The command line wins over the file, and the file over the defaults: per key for
    params and severity, as a union for disable and ignore; packs and select on the command
    line replace the file's list."""
    cli = {key: value for key, value in (cli or {}).items() if value not in (None, (), [], {})}
    start = Path(start) if start is not None else Path.cwd()
    config: ProjectConfig | None = None
    if not use_config:
        origin = "--no-config"
    elif config_file is not None:
        if not str(config_file).strip():
            raise UsageError("the configuration file name is empty", path=config_origin)
        config = read_config(config_file)
        origin = config_origin
    else:
        found = find_config(start)
        config = read_found_config(found) if found is not None else None
        origin = "found" if config else "none"
    values = config.values if config else ConfigModel.model_construct()   # every key unset

    def from_file(key: str, *path) -> str:
        return config.source(key, *path) if config else DEFAULT

    from .lang.manifest import DEFAULT_PACK
    if cli.get("packs"):
        packs = Setting([str(p) for p in cli["packs"]], COMMAND_LINE)
    elif values.packs is not None and config is not None:
        packs = Setting([_resolve_pack(p, config.folder) for p in values.packs],
                        from_file("packs"))
    else:
        packs = Setting([DEFAULT_PACK], DEFAULT)

    params = {name: Setting(value, from_file("params", name))
              for name, value in (values.params or {}).items()}
    for name, value in dict(cli.get("params") or {}).items():
        params.pop(name, None)   # the command line's value comes last, so the loader keeps it
        params[name] = Setting(value, COMMAND_LINE)

    disable = {rule: Setting(True, from_file("disable")) for rule in values.disable or []}
    for rule in cli.get("disable") or []:
        disable.setdefault(rule, Setting(True, COMMAND_LINE))

    select = _selectors(cli.get("select"), lambda i: COMMAND_LINE) \
        or _selectors(values.select, lambda i: from_file("select", i))
    ignore = _selectors(values.ignore, lambda i: from_file("ignore", i))
    for text, setting in _selectors(cli.get("ignore"), lambda i: COMMAND_LINE).items():
        ignore.setdefault(text, setting)

    severity = {rule: Setting(level, from_file("severity", rule))
                for rule, level in (values.severity or {}).items()}
    for rule, level in dict(cli.get("severity") or {}).items():
        if level not in SEVERITIES:
            raise UsageError(f"expected one of {', '.join(SEVERITIES)}, found "
                             f"{describe(level)}{did_you_mean(level, SEVERITIES)}",
                             path=f"--severity {rule}")
        severity.pop(rule, None)
        severity[rule] = Setting(level, COMMAND_LINE)

    def single(key: str, file_value, default) -> Setting:
        if cli.get(key) is not None:
            return Setting(cli[key], COMMAND_LINE)
        if file_value is not None:
            return Setting(file_value, from_file(key.replace("_", "-")))
        return Setting(default, DEFAULT)

    fail_on = single("fail_on", values.fail_on, DEFAULT_FAIL_ON)
    format_ = single("format", values.format, DEFAULT_FORMAT)
    if cli.get("waivers") is not None:
        waivers = Setting(str(cli["waivers"]), COMMAND_LINE)
    elif values.waivers is not None and config is not None:
        waivers = Setting(_resolve_path(values.waivers, config.folder), from_file("waivers"))
    else:
        waivers = Setting(None, DEFAULT)
    return Settings(config, origin, start, packs, params, disable, severity, fail_on,
                    format_, waivers, bool(cli.get("no_waivers")), select, ignore)


def _selectors(written, source) -> dict[str, Setting]:
    """Selectors as given (each text may hold several, separated by commas), one Setting
    each, from `source(index of the text)`; a text with an empty piece is kept whole for the
    pack loader to refuse with its message."""
    found: dict[str, Setting] = {}
    for i, text in enumerate(written or ()):
        pieces = [piece.strip() for piece in text.split(",")]
        for piece in pieces if all(pieces) else [text]:
            found.setdefault(piece, Setting(True, source(i)))
    return found


_PACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _resolve_path(written: str, folder: Path) -> str:
    path = Path(written).expanduser()
    return display_path(path if path.is_absolute() else folder / path)


def _resolve_pack(written: str, folder: Path) -> str:
    """A pack named in the file: a folder relative to the file's folder when there is one
    (or the name is not a pack name), else the name of an installed pack."""
    path = Path(written).expanduser()
    if path.is_absolute():
        return str(path)
    if (folder / path).exists() or not _PACK_NAME.match(written):
        return display_path(folder / path)
    return written
