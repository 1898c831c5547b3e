"""A hostile rule pack or case can neither run code nor read anything it was not given.

Packs come from third parties and cases from anyone who can open a pull request, so every
attempt below is written the way an attacker would write it. Each one is either refused when
it loads, with diplo's own one-line error, or loads and then shows its text literally. In both
outcomes no secret (an environment variable, a file beside the pack) may appear anywhere:
stdout, stderr, the JSON report, or the message of an exception. docs/security.md points here.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine import InputError, PackError, assess, load_case, load_pack
from engine.cli import main
from engine.authoring.packtest import collect

from conftest import BASE_CASE, ONE_RULE, ROOT, param, rule, write_pack

SECRET_ENV = "DIPLO_TEST_SECRET"


@dataclass
class Secrets:
    env: str
    file: str
    root: Path
    marker: Path          # a payload that ran would create this file

    def assert_absent(self, *texts):
        for text in texts:
            text = "" if text is None else str(text)
            assert self.env not in text, f"the environment secret leaked: {text[:400]}"
            assert self.file not in text, f"the secret file leaked: {text[:400]}"
        assert not self.marker.exists(), "a payload in the pack or case ran"


@pytest.fixture
def secret(tmp_path, monkeypatch) -> Secrets:
    env = "ENV-" + secrets.token_hex(16)
    file = "FILE-" + secrets.token_hex(16)
    monkeypatch.setenv(SECRET_ENV, env)
    # .yaml as well as .txt, so that a suffix filter is never what keeps the secret out
    for name in ("secret.txt", "secret.yaml"):
        (tmp_path / name).write_text(file + "\n", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "rules.yaml").write_text(file + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return Secrets(env, file, tmp_path, tmp_path / "PWNED")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result, s: Secrets):
    """Exit 2 with diplo's one-line error, and nothing of the secret in it."""
    s.assert_absent(result.stdout, result.stderr, result.exception)
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, err, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in err
    assert err.startswith("diplo: error: ") and err.count("\n") == 1, err


def assert_pack_refused(pack: Path, s: Secrets, *words):
    with pytest.raises((PackError, InputError)) as caught:
        load_pack(pack)
    s.assert_absent(str(caught.value), repr(caught.value))
    for word in words:
        assert word.lower() in str(caught.value).lower(), str(caught.value)
    assert_refused(cli("rules", "list", "--pack", pack), s)


# --- building hostile inputs --------------------------------------------------------------------

GOOD_RULE = ONE_RULE.replace("title: A cut", "title: TITLE")

GOOD_TESTS = textwrap.dedent("""\
    tests:
      - name: NAME
        case:
          line_items: [{id: exercises, category: joint_exercises, amount: 80, prior: 100}]
        expect:
          - {rule: S-001}
    """)


def yaml_case(**changes) -> dict:
    return {**BASE_CASE, **changes}


def write_case(path: Path, data: dict | str) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def good_pack(root: Path, name: str = "pack") -> Path:
    return write_pack(root / name, GOOD_RULE.replace("TITLE", "A cut"), name="hostile")


def set_manifest(pack: Path, **changes) -> None:
    data = yaml.safe_load((pack / "pack.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    (pack / "pack.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def tags(marker: Path) -> dict[str, str]:
    """YAML tags that construct Python objects under an unsafe loader; each would create
    `marker` or read a secret if it were honoured."""
    touch = f'["touch {marker}"]'
    return {
        "object-apply-system": f"!!python/object/apply:os.system {touch}",
        "object-new-system": f"!!python/object/new:os.system {touch}",
        "object-apply-subprocess": "!!python/object/apply:subprocess.check_output "
                                   "[[cat, secret.txt]]",
        "object-apply-getenv": f"!!python/object/apply:os.getenv [{SECRET_ENV}]",
        "name-environ": "!!python/name:os.environ",
        "name-system": "!!python/name:os.system",
        "module-os": "!!python/module:os",
        "object-state": "!!python/object:os._Environ {data: {}}",
        "verbatim-tag": f"!<tag:yaml.org,2002:python/object/apply:os.system> {touch}",
        "local-tag": f"!python/object/apply:os.system {touch}",
        "bytes-tag": "!!python/bytes SGVsbG8=",
        "tuple-tag": "!!python/tuple [1, 2]",
    }


TAG_NAMES = list(tags(Path("x")))


# --- YAML tags ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", TAG_NAMES)
def test_a_python_tag_in_the_manifest_is_refused(tag, secret):
    pack = good_pack(secret.root)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace("description: A pack built by a test.",
                        f"description: {tags(secret.marker)[tag]}")
    assert tags(secret.marker)[tag] in text
    (pack / "pack.yaml").write_text(text, encoding="utf-8")
    assert_pack_refused(pack, secret, "pack.yaml", "description")


@pytest.mark.parametrize("tag", TAG_NAMES)
def test_a_python_tag_in_a_rule_file_is_refused(tag, secret):
    pack = write_pack(secret.root / "pack", GOOD_RULE.replace("TITLE", tags(secret.marker)[tag]),
                      name="hostile")
    assert_pack_refused(pack, secret, "rules.yaml", "rules[0].title")


def test_a_python_tag_as_a_key_is_refused(secret):
    pack = write_pack(secret.root / "pack", GOOD_RULE.replace(
        "    title: TITLE\n", "    title: A cut\n    !!python/name:os.environ : x\n"),
        name="hostile")
    assert_pack_refused(pack, secret, "rules.yaml")


@pytest.mark.parametrize("tag", TAG_NAMES)
def test_a_python_tag_in_a_rule_test_file_is_refused(tag, secret):
    pack = good_pack(secret.root)
    (pack / "rules" / "rules.test.yaml").write_text(
        GOOD_TESTS.replace("NAME", tags(secret.marker)[tag]), encoding="utf-8")
    with pytest.raises((PackError, InputError)) as caught:
        collect(pack)
    secret.assert_absent(str(caught.value))
    assert_refused(cli("test", pack), secret)


@pytest.mark.parametrize("tag", TAG_NAMES)
def test_a_python_tag_in_a_test_case_field_is_refused(tag, secret):
    pack = good_pack(secret.root)
    text = GOOD_TESTS.replace("NAME", "tagged").replace(
        "    case:\n", f"    case:\n      country: {tags(secret.marker)[tag]}\n")
    assert tags(secret.marker)[tag] in text
    (pack / "rules" / "rules.test.yaml").write_text(text, encoding="utf-8")
    assert_refused(cli("test", pack), secret)


@pytest.mark.parametrize("tag", TAG_NAMES)
def test_a_python_tag_in_a_case_is_refused(tag, secret):
    text = yaml.safe_dump(yaml_case(title="PLACEHOLDER"), sort_keys=False).replace(
        "PLACEHOLDER", tags(secret.marker)[tag])
    case = write_case(secret.root / "case.yaml", text)
    with pytest.raises(InputError) as caught:
        load_case(case)
    secret.assert_absent(str(caught.value))
    assert_refused(cli("assess", case), secret)
    assert "title" in cli("assess", case).stderr


# --- templates ----------------------------------------------------------------------------------

REFUSED_TEMPLATES = [
    "{item.__class__}", "{item.__dict__}", "{item.__class__.__mro__}", "{item[0]}",
    "{item['id']}", "{$__builtins__}", "{__builtins__}", "{__import__}", "{item.id:>{x}}",
    "{item.id:>10}", "{item.id!r}", "{item.id.upper}", "{item.id()}", "{item.id.__len__()}",
    "{0}", "{}", "{ }", "{item}", "{os.environ}", f"{{${SECRET_ENV}}}", f"{{{SECRET_ENV}}}",
    f"${{{SECRET_ENV}}}", "{case.__class__}", "{item.id|__class__}", "{item.id|format}",
    "{item.id|pct:>{x}}", "{{{item.__class__}}}", "{item.id", "item.id}", "{{item.id}",
    "{$missing}", "{item .id}", "{item.id.x}",
]


@pytest.mark.parametrize("template", REFUSED_TEMPLATES)
@pytest.mark.parametrize("where", ["message", "remediation"])
def test_a_template_that_reaches_past_a_plain_field_is_refused(template, where, secret):
    body = rule("S-001", [{"fact": "line_item", "as": "item"}],
                report={where: template, "message": template if where == "message" else "m"})
    pack = write_pack(secret.root / "pack", [body], name="hostile",
                      parameters={"label": param("x", unit="text")})
    assert_pack_refused(pack, secret, f"rules[0].report.{where}")


# --- expressions --------------------------------------------------------------------------------

REFUSED_EXPRESSIONS = [
    "open('secret.txt') == 'x'", "__import__('os').system('touch PWNED') == 0",
    "eval('1') == 1", "exec('import os') == 1", "compile('1', 'x', 'eval') == 1",
    "getattr(item, 'id') == 'x'", "globals() == 1", "breakpoint() == 1",
    "item.__class__.__mro__ == 1", "item.__class__ == 1", "item.__dict__ == 1",
    "__builtins__ == 1", "case.__dict__ == 1", "$__builtins__ == 1",
    f"${SECRET_ENV} == 1", f"{SECRET_ENV} == 1", "os.environ == 1",
    "().__class__ == 1", "'x'.join(['a']) == 'a'", "lambda: 1", "[x for x in 'ab'] == 1",
    "item.id if true else 1", "item.amount ** 2 > 1", "item.amount @ 1 > 1",
    "item.amount > 1; import os", "f'{item.id}' == 'x'", "item.amount > 1 # comment",
    "item['id'] == 'x'", "item.id.upper == 'x'", "amount.real > 1", "id.__len__ == 1",
    "item.amount > 0x10", "`item`", "item.amount > 1 and __import__", "\\x41 == 1",
]


def _where_rule(expr):
    return rule("S-001", [{"fact": "line_item", "as": "item", "where": expr}],
                report={"message": "m"})


def _let_rule(expr):
    return rule("S-001", [{"fact": "line_item", "as": "item"}], let={"x": expr},
                report={"message": "{x}"})


def _derive_rule(expr):
    return rule("S-001", [{"fact": "line_item", "as": "item"}],
                derive={"fact": "leak", "fields": {"x": expr}})


@pytest.mark.parametrize("expr", REFUSED_EXPRESSIONS)
@pytest.mark.parametrize("site, build", [("when[0].where", _where_rule),
                                         ("let.x", _let_rule),
                                         ("derive.fields.x", _derive_rule)])
def test_an_expression_that_calls_imports_or_reaches_attributes_is_refused(expr, site, build,
                                                                            secret):
    pack = write_pack(secret.root / "pack", [build(expr)], name="hostile")
    assert_pack_refused(pack, secret, f"rules[0].{site}")


@pytest.mark.parametrize("name", ["__class__", "__builtins__", "_private", "Environ"])
@pytest.mark.parametrize("section", ["parameters", "categories", "concerns"])
def test_parameters_and_names_cannot_be_dunder_or_private(section, name, secret):
    declared = {"parameters": param(1),
                "categories": {"group": "engagement", "description": "A category."},
                "concerns": {"kind": "risk", "description": "A concern."}}[section]
    pack = write_pack(secret.root / "pack", GOOD_RULE.replace("TITLE", "A cut"),
                      name="hostile", **{section: {name: declared}})
    assert_pack_refused(pack, secret, "pack.yaml", section)


@pytest.mark.parametrize("key, value", [("as", "__class__"), ("fact", "__class__"),
                                        ("as", "os")])
def test_binding_and_fact_names_are_plain(key, value, secret):
    when = [{"fact": "line_item", "as": "item", key: value}]
    body = rule("S-001", when, report={"message": "m"})
    pack = write_pack(secret.root / "pack", [body], name="hostile")
    if value == "os":  # a plain name is allowed; it is only a label, nothing is looked up
        load_pack(pack)
        return
    assert_pack_refused(pack, secret, "rules[0].when[0]")


# --- files outside the pack ---------------------------------------------------------------------

def _manifest_rules(globs):
    def build(s: Secrets) -> Path:
        pack = good_pack(s.root)
        set_manifest(pack, rules=[g.format(root=s.root) for g in globs])
        return pack
    return build


def _guidance(document):
    def build(s: Secrets) -> Path:
        pack = good_pack(s.root)
        data = yaml.safe_load((pack / "pack.yaml").read_text(encoding="utf-8"))
        data["guidance"]["document"] = document.format(root=s.root)
        (pack / "pack.yaml").write_text(yaml.safe_dump(data, sort_keys=False),
                                        encoding="utf-8")
        return pack
    return build


def _symlink(relative: str, target: str, *, replace: bool = True):
    def build(s: Secrets) -> Path:
        pack = good_pack(s.root)
        link = pack / relative
        if replace and (link.exists() or link.is_symlink()):
            if link.is_dir():
                for child in link.iterdir():
                    child.unlink()
                link.rmdir()
            else:
                link.unlink()
        link.symlink_to(target.format(root=s.root))
        return pack
    return build


OUTSIDE = {
    "rules-glob-parent": (_manifest_rules(["../secret.yaml"]), "rules[0]"),
    "rules-glob-parent-wildcard": (_manifest_rules(["../*.yaml"]), "rules[0]"),
    "rules-glob-absolute": (_manifest_rules(["{root}/secret.yaml"]), "rules[0]"),
    "rules-glob-absolute-wildcard": (_manifest_rules(["{root}/*"]), "rules[0]"),
    "rules-glob-climbs-back": (_manifest_rules(["rules/../../secret.yaml"]), "rules[0]"),
    "rules-glob-second-entry": (_manifest_rules(["rules/*.yaml", "../outside/*.yaml"]),
                                "rules[1]"),
    "rules-glob-home": (_manifest_rules(["~/secret.yaml"]), "rules[0]"),
    "guidance-parent": (_guidance("../secret.txt"), "guidance.document"),
    "guidance-absolute": (_guidance("{root}/secret.txt"), "guidance.document"),
    "guidance-climbs-back": (_guidance("rules/../../secret.txt"), "guidance.document"),
    "guidance-symlink-out": (_symlink("guidance.txt", "{root}/secret.txt"),
                             "guidance.document"),
    "guidance-symlink-relative": (_symlink("guidance.txt", "../secret.txt"),
                                  "guidance.document"),
    "rule-file-symlink-out": (_symlink("rules/evil.yaml", "{root}/secret.yaml",
                                       replace=False), "rules[0]"),
    "rule-file-symlink-replaces-rules": (_symlink("rules/rules.yaml", "../../secret.yaml"),
                                         "rules[0]"),
    "rules-folder-symlink-out": (_symlink("rules", "{root}/outside"), "rules[0]"),
    "manifest-symlink-out": (_symlink("pack.yaml", "{root}/secret.yaml"), "pack.yaml"),
}


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_a_pack_cannot_read_a_file_outside_its_folder(name, secret):
    build, words = OUTSIDE[name]
    pack = build(secret)
    assert_pack_refused(pack, secret, words)


def test_a_linked_rules_folder_discloses_no_name_from_outside(secret):
    # a file's name can be the secret (a key id, a user name); listing a folder the pack
    # links to is already reading outside the pack
    (secret.root / "outside" / f"{secret.file}.yaml").write_text("rules: []\n",
                                                                  encoding="utf-8")
    pack = _symlink("rules", "{root}/outside")(secret)
    assert_pack_refused(pack, secret, "rules[0]")


def test_a_rule_test_file_that_links_outside_is_not_read(secret):
    pack = good_pack(secret.root)
    (pack / "rules" / "evil.test.yaml").symlink_to(secret.root / "secret.yaml")
    result = cli("test", pack)
    secret.assert_absent(result.stdout, result.stderr, result.exception)
    with pytest.raises((PackError, InputError)) as caught:
        collect(pack)
    secret.assert_absent(str(caught.value))
    assert_refused(result, secret)


def test_a_rule_test_folder_that_links_outside_is_not_searched(secret):
    pack = good_pack(secret.root)
    (secret.root / "outside" / "x.test.yaml").write_text(secret.file + "\n", encoding="utf-8")
    (pack / "rules" / "more").symlink_to(secret.root / "outside")
    result = cli("test", pack)
    secret.assert_absent(result.stdout, result.stderr, result.exception)


# --- cases in a folder that someone else filled -------------------------------------------------

def test_a_case_folder_link_to_a_file_outside_does_not_show_it(secret):
    # a review pipeline runs `diplo assess cases/` on folders a pull request may change; git
    # keeps symbolic links, so the folder can hold one to any file the runner can read
    folder = secret.root / "cases"
    folder.mkdir()
    write_case(folder / "good.yaml", yaml_case())
    (folder / "leak.yaml").symlink_to(secret.root / "secret.txt")
    result = cli("assess", folder, "--format", "json", "--exit-zero")
    secret.assert_absent(result.stdout, result.stderr, result.exception)


# --- text that looks like a template, shown literally -------------------------------------------

LOOKALIKE = (f"{{item.__class__}} {{$other}} ${{{SECRET_ENV}}} ${SECRET_ENV} {{{{x}}}} "
             f"%({SECRET_ENV})s {{0!r}} {{case.__class__}}")


def _literal_pack(s: Secrets, message: str, remediation: str | None = None,
                  title: str = "A cut") -> Path:
    categories = yaml.safe_load((ROOT / "rules" / "defense-diplomacy" / "pack.yaml")
                                .read_text(encoding="utf-8"))["categories"]
    categories["joint_exercises"] = {"group": "engagement", "description": LOOKALIKE}
    report = {"message": message}
    if remediation:
        report["remediation"] = remediation
    body = rule("S-001", [{"fact": "line_item", "as": "item",
                           "where": "category == 'joint_exercises'"}],
                report=report, title=title)
    return write_pack(s.root / "pack", [body], name="hostile", categories=categories,
                      parameters={"label": param(LOOKALIKE, unit="text"),
                                  "other": param("OTHER", unit="text")})


def _outputs(case: Path, pack: Path, *extra) -> dict[str, str]:
    outputs = {}
    for fmt in ("json", "table", "markdown"):
        result = cli("assess", case, "--pack", pack, "--format", fmt, "--details",
                     "--exit-zero", *extra)
        assert result.exit_code == 0, (result.stderr, result.exception)
        outputs[fmt] = result.stdout + result.stderr
    result = cli("explain", case, "--pack", pack, *extra)
    assert result.exit_code == 0, (result.stderr, result.exception)
    outputs["explain"] = result.stdout + result.stderr
    return outputs


def test_parameter_values_are_not_expanded_again(secret):
    pack = _literal_pack(secret, "{$label} | {item.id} | {$other}", remediation="{$label}")
    case = write_case(secret.root / "case.yaml", yaml_case())
    finding = assess(load_case(case, load_pack(pack)), load_pack(pack)).findings[0]
    assert finding.message == f"{LOOKALIKE} | exercises | OTHER"
    assert finding.remediation == LOOKALIKE
    outputs = _outputs(case, pack)
    secret.assert_absent(*outputs.values())
    report = json.loads(outputs["json"])
    assert report["findings"][0]["message"] == f"{LOOKALIKE} | exercises | OTHER"
    assert report["findings"][0]["parameters"] == {"label": LOOKALIKE, "other": "OTHER"}


def test_a_parameter_override_with_template_text_is_shown_as_given(secret):
    pack = _literal_pack(secret, "{$label}")
    case = write_case(secret.root / "case.yaml", yaml_case())
    hostile = f"{{$other}} ${SECRET_ENV} {{item.__class__}}"
    result = cli("assess", case, "--pack", pack, "--format", "json", "--exit-zero",
                 "--param", f"label={hostile}")
    secret.assert_absent(result.stdout, result.stderr)
    assert json.loads(result.stdout)["findings"][0]["message"] == hostile


def test_category_descriptions_are_shown_as_written(secret):
    pack = _literal_pack(secret, "{item.id}")
    result = cli("rules", "categories", "--pack", pack)
    secret.assert_absent(result.stdout, result.stderr)
    assert result.exit_code == 0
    assert "{item.__class__}" in result.stdout and f"${SECRET_ENV}" in result.stdout


def test_a_rule_title_with_template_text_is_shown_as_written(secret):
    pack = _literal_pack(secret, "{item.id}", title=LOOKALIKE[:200])
    case = write_case(secret.root / "case.yaml", yaml_case())
    outputs = _outputs(case, pack)
    secret.assert_absent(*outputs.values())
    assert json.loads(outputs["json"])["findings"][0]["title"] == LOOKALIKE[:200]


def test_escaped_braces_are_literal_and_never_a_second_placeholder(secret):
    pack = _literal_pack(secret, "{{item.id}} {{$label}} {{{item.id}}} }}{{ {{{{$other}}}}")
    case = write_case(secret.root / "case.yaml", yaml_case())
    packset = load_pack(pack)
    message = assess(load_case(case, packset), packset).findings[0].message
    assert message == "{item.id} {$label} {exercises} }{ {{$other}}"
    secret.assert_absent(*_outputs(case, pack).values())


CASE_TEXT = f"{{case.__class__}} {{$label}} ${{{SECRET_ENV}}} ${SECRET_ENV} {{{{x}}}} {{item.id}}"


def test_case_text_that_looks_like_a_template_is_shown_literally(secret):
    pack = _literal_pack(secret, "{case.country} / {case.id} / {item.id}")
    data = yaml_case(title=CASE_TEXT, country=CASE_TEXT)
    data["line_items"] = [dict(item, description=CASE_TEXT, partners=[CASE_TEXT])
                          for item in data["line_items"]]
    data["commitments"] = [{"id": "pact", "kind": "alliance", "partners": [CASE_TEXT],
                            "depends_on": ["joint_exercises"]}]
    case = write_case(secret.root / "case.yaml", data)
    packset = load_pack(pack)
    report = assess(load_case(case, packset), packset, explain=True)
    assert report.findings[0].message == f"{CASE_TEXT} / test-case / exercises"
    assert report.case.title == CASE_TEXT
    outputs = _outputs(case, pack)
    secret.assert_absent(*outputs.values(), report.to_json())
    assert json.loads(outputs["json"])["findings"][0]["message"] == \
        f"{CASE_TEXT} / test-case / exercises"
    assert CASE_TEXT in outputs["table"]


def test_case_text_in_a_rule_test_is_literal(secret):
    pack = _literal_pack(secret, "{case.country}")
    (pack / "rules" / "rules.test.yaml").write_text(yaml.safe_dump({"tests": [{
        "name": CASE_TEXT,
        "case": {"country": CASE_TEXT, "line_items": [
            {"id": "exercises", "category": "joint_exercises", "amount": 80, "prior": 100}]},
        "absent": [{"rule": "S-001"}]}]}), encoding="utf-8")
    result = cli("test", pack, "-v")
    secret.assert_absent(result.stdout, result.stderr)
    assert result.exit_code == 1, result.stderr
    assert CASE_TEXT in result.stdout


# --- nothing imported, nothing opened but the pack's files and the case -----------------------

AUDIT = r'''
import json, os, sys
scenarios = json.loads(sys.argv[1])
from engine import DiploError, assess, load_case, load_pack
from engine.authoring.packtest import run_pack_tests


def attempt(pack, case, tests):
    out = []
    try:
        packset = load_pack(pack)
        out.append("loaded")
        if tests:
            out.extend(repr(o) for o in run_pack_tests([pack]))
        if case:
            report = assess(load_case(case, packset), packset, explain=True)
            out.append(report.to_json())
    except DiploError as exc:
        out.append("error: " + str(exc))
    return out


# every code path a refusal can take, once with benign inputs: a lazy import on the first
# use of a path is not the pack's doing
for pack, case, tests in json.loads(sys.argv[2]):
    attempt(pack, case, tests)

WATCH = ("import", "open", "os.listdir", "os.scandir", "os.system", "os.exec", "os.spawn",
         "os.posix_spawn", "os.fork", "os.kill", "subprocess.Popen", "exec", "compile",
         "ctypes.", "socket.", "pickle.", "marshal.", "urllib.", "shutil.", "os.remove",
         "os.rename", "os.putenv", "os.unsetenv", "builtins.input", "code.", "cpython.")
events = []


def hook(event, args):
    if event.startswith(WATCH):
        shown = [a if isinstance(a, (str, int, float, type(None))) else
                 os.fsdecode(a) if isinstance(a, bytes) else type(a).__name__ for a in args]
        events.append([event] + shown[:3])


before = set(sys.modules)
sys.addaudithook(hook)
results = []
for name, pack, case, tests in scenarios:
    start = len(events)
    output = attempt(pack, case, tests)
    results.append({"name": name, "events": events[start:], "output": output})
print(json.dumps({"new_modules": sorted(set(sys.modules) - before), "results": results}))
'''


def _benign(root: Path) -> list:
    """Inputs that take every refusal path a hostile pack can take, but harmlessly."""
    runs = []
    pack = good_pack(root, "benign")
    (pack / "rules" / "rules.test.yaml").write_text(GOOD_TESTS.replace("NAME", "cut"),
                                                    encoding="utf-8")
    case = write_case(root / "benign.yaml", yaml_case())
    runs.append([str(pack), str(case), True])
    broken = {
        "yaml": "rules: [\n", "tag": "rules: !!str x\n", "schema": "rules: [{id: x}]\n",
        "expr": GOOD_RULE.replace("category == 'joint_exercises'", "category = 1"),
        "field": GOOD_RULE.replace("category == 'joint_exercises'", "nope == 1"),
        "template": GOOD_RULE.replace("{item.id} is cut", "{item.nope}"),
        "template-syntax": GOOD_RULE.replace("{item.id} is cut", "{item[0]}"),
        "function": GOOD_RULE.replace("category == 'joint_exercises'", "nope(1) == 1"),
    }
    for key, text in broken.items():
        runs.append([str(write_pack(root / f"benign-{key}", text, name="benign")), None,
                     False])
    outside = good_pack(root, "benign-outside")
    set_manifest(outside, rules=["../x/*.yaml"])
    runs.append([str(outside), None, False])
    for text in ("title: [\n", "title: !!binary eA==\n", "{}\n", "id: x\n"):
        runs.append([str(pack), str(write_case(root / f"benign-{len(runs)}.yaml", text)),
                     False])
    return runs


def _hostile(s: Secrets) -> list:
    scenarios = []
    root = s.root

    def add(name, pack, case=None, tests=False):
        scenarios.append([name, str(pack), str(case) if case else None, tests])

    for tag, text in tags(s.marker).items():
        base = root / "audit" / tag
        pack = write_pack(base / "in-rules", GOOD_RULE.replace("TITLE", text), name="hostile")
        add(f"rule-file {tag}", pack)
        pack = good_pack(base, "in-manifest")
        manifest = (pack / "pack.yaml").read_text(encoding="utf-8")
        (pack / "pack.yaml").write_text(manifest.replace(
            "description: A pack built by a test.", f"description: {text}"), encoding="utf-8")
        add(f"manifest {tag}", pack)
        pack = good_pack(base, "in-tests")
        (pack / "rules" / "rules.test.yaml").write_text(GOOD_TESTS.replace("NAME", text),
                                                        encoding="utf-8")
        add(f"test-file {tag}", pack, tests=True)
        case = write_case(base / "case.yaml", yaml.safe_dump(yaml_case(title="X")).replace(
            "title: X", f"title: {text}"))
        add(f"case {tag}", good_pack(base, "for-case"), case)
    for i, template in enumerate(REFUSED_TEMPLATES):
        body = rule("S-001", [{"fact": "line_item", "as": "item"}], report={"message": template})
        add(f"template {template}", write_pack(root / "audit" / f"template-{i}", [body],
                                               name="hostile"))
    for i, expr in enumerate(REFUSED_EXPRESSIONS):
        for kind, build in (("where", _where_rule), ("let", _let_rule),
                            ("derive", _derive_rule)):
            add(f"{kind} {expr}", write_pack(root / "audit" / f"{kind}-{i}", [build(expr)],
                                             name="hostile"))
    for name, (build, _) in OUTSIDE.items():
        sub = Secrets(s.env, s.file, root / "audit" / f"outside-{name}", s.marker)
        sub.root.mkdir(parents=True)
        for file in ("secret.txt", "secret.yaml"):
            (sub.root / file).write_text(s.file + "\n", encoding="utf-8")
        (sub.root / "outside").mkdir()
        (sub.root / "outside" / "rules.yaml").write_text(s.file + "\n", encoding="utf-8")
        add(f"outside {name}", build(sub))
    pack = good_pack(root / "audit", "test-link")
    (pack / "rules" / "evil.test.yaml").symlink_to(root / "secret.yaml")
    add("test-file symlink out", pack, tests=True)
    literal = _literal_pack(Secrets(s.env, s.file, root / "audit" / "literal", s.marker),
                            "{$label} {case.country} {{$other}}")
    data = yaml_case(title=CASE_TEXT, country=CASE_TEXT)
    add("literal text", literal, write_case(root / "audit" / "literal.yaml", data))
    return scenarios


def _allowed(path: str, pack: str, case: str | None) -> bool:
    real = os.path.realpath(path)
    if case and real == os.path.realpath(case):
        return True
    return real == os.path.realpath(pack) or real.startswith(os.path.realpath(pack) + os.sep)


def test_loading_and_assessing_hostile_inputs_imports_and_opens_nothing_else(secret):
    (secret.root / "audit").mkdir()
    scenarios = _hostile(secret)
    benign = _benign(secret.root / "benign")
    # the hook cannot be removed once installed: it lives and dies with this subprocess
    done = subprocess.run([sys.executable, "-c", AUDIT, json.dumps(scenarios),
                           json.dumps(benign)], cwd=secret.root, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert secret.env not in done.stderr and secret.file not in done.stderr
    seen = json.loads(done.stdout)
    assert seen["new_modules"] == [], "loading hostile packs imported modules"
    problems = []
    for (name, pack, case, _), result in zip(scenarios, seen["results"]):
        assert result["name"] == name
        shown = json.dumps(result["output"])
        if secret.env in shown or secret.file in shown:
            problems.append(f"{name}: the secret is in its output: {shown[:300]}")
        for event, *args in result["events"]:
            if event in ("open", "os.listdir", "os.scandir") and args and \
                    isinstance(args[0], str) and _allowed(args[0], pack, case):
                continue
            problems.append(f"{name}: {event} {args}")
    assert not problems, "\n".join(problems)
    assert not secret.marker.exists()
    assert len(seen["results"]) == len(scenarios) > 100
