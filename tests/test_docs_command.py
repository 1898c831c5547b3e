"""`diplo docs [TOPIC]`: the documentation pages by topic, and every pointer to documentation
that diplo prints (help texts, lint hints, the scaffolded manifest, the schemas) naming a page
that `diplo docs` can show. tests/test_install.py checks the same command from an installed
wheel."""
from __future__ import annotations

import re

import click
import pytest

import engine.docs
from engine.authoring.lint.report import CODES
from engine.authoring.scaffold import TEMPLATES
from engine.cli import main
from engine.docs import Page

from conftest import ROOT, run_cli

PAGES = sorted((ROOT / "docs").glob("*.md"))
TOPICS = [p.stem for p in PAGES]
POINTER = re.compile(r"`diplo docs ([^`\s]+)`")


def first_heading(path) -> str:
    return next(line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("# "))


def test_without_a_topic_every_page_is_listed_with_its_title():
    result = run_cli("docs")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == TOPICS
    for line, path in zip(lines, PAGES):
        topic, title = line.split(None, 1)
        assert title == first_heading(path)
    # titles start in one column
    assert len({line.index(line.split(None, 1)[1]) for line in lines}) == 1


@pytest.mark.parametrize("topic", TOPICS)
def test_a_topic_prints_its_page_unchanged(topic):
    result = run_cli("docs", topic)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (ROOT / "docs" / f"{topic}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spelled", ["limits.md", "docs/limits.md"])
def test_a_file_name_from_the_repository_names_its_topic(spelled):
    result = run_cli("docs", spelled)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")


def test_path_prints_where_a_page_or_the_folder_is():
    result = run_cli("docs", "limits", "--path")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"{ROOT / 'docs' / 'limits.md'}\n"
    result = run_cli("docs", "--path")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"{ROOT / 'docs'}\n"


@pytest.mark.parametrize("topic, words, absent", [
    ("limts", ["'limits'", "no documentation page named 'limts'", "did you mean 'limits'?",
               "`diplo docs` lists the pages"], None),
    ("Rule-Language", ["did you mean 'rule-language'?"], None),
    ("kubernetes", ["no documentation page named 'kubernetes'", "`diplo docs` lists"],
     "did you mean"),
])
def test_an_unknown_topic_is_a_usage_error_with_a_suggestion(topic, words, absent):
    result = run_cli("docs", topic)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    for word in words:
        assert word in result.stderr, result.stderr
    if absent:
        assert absent not in result.stderr


def test_an_installation_without_its_pages_says_so(tmp_path, monkeypatch):
    # a package folder with neither _docs/ inside nor docs/ beside it
    monkeypatch.setattr(engine.docs, "__file__", str(tmp_path / "engine" / "docs.py"))
    result = run_cli("docs")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "documentation pages are missing from this installation" in result.stderr
    assert str(tmp_path / "engine" / "_docs") in result.stderr


def test_a_page_without_a_heading_is_titled_by_its_topic(tmp_path):
    page = tmp_path / "notes.md"
    page.write_text("Just text.\n\n## Not at the top\n", encoding="utf-8")
    assert Page("notes", page).title() == "Not at the top"
    page.write_text("Just text.\n", encoding="utf-8")
    assert Page("notes", page).title() == "notes"


# --- every pointer to documentation that diplo prints -----------------------------------------

def help_texts(command: click.Command, path: tuple[str, ...] = ()):
    yield " ".join(path) or "diplo", run_cli(*path, "--help").stdout
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from help_texts(sub, path + (name,))


def printed_pointers() -> dict[str, str]:
    """What diplo can print that might point to documentation, by where it comes from."""
    texts = dict(help_texts(main))
    texts.update({f"lint hint {code.name}": code.hint for code in CODES.values()})
    texts.update({f"scaffolded {name}": text for name, text in TEMPLATES.items()})
    for contract in ("case", "report"):
        texts[f"schema {contract}"] = run_cli("schema", contract).stdout
    return texts


def test_what_diplo_prints_points_to_pages_an_installed_user_can_read():
    texts = printed_pointers()
    assert "docs" in texts and "pack lint" in texts      # the walk reached nested commands
    assert not {where for where, text in texts.items() if re.search(r"docs/[\w-]+\.md", text)}
    named = {(where, topic) for where, text in texts.items()
             for topic in POINTER.findall(text)}
    assert {topic for _, topic in named} >= {"limits", "linting", "rule-language",
                                             "writing-packs", "review-workflows"}
    assert {(where, topic) for where, topic in named if topic not in TOPICS} == set()
