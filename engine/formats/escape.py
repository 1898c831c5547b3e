"""Text that someone else wrote, made safe for the syntax it is printed in: one helper per
syntax, shared by every format that prints it.

Cases, packs, waivers files and file names are written by people diplo does not trust (in a
review pipeline, whoever opens a pull request). Their text goes into outputs that other people
and programs read: a terminal, a CI log, a pull-request comment, a code-scanning alert, a test
report. So a value must never change the structure around it: a title must not start a line
that reads as diplo's own (`Verdict: PASS`), a terminal escape sequence must not reach the
terminal, a waiver's reason must not open a heading, a link or HTML in a memo, and no text may
end a workflow command early. The JSON formats carry values as they are (JSON escapes them).

- plain text (the table, `diplo explain`, notes, standard error): `one_line`
- Markdown (the memo, the GitHub job summary, SARIF's markdown fields): `md_text`, `md_code`
- GitHub workflow commands: `workflow_data`, `workflow_property`
- XML (JUnit): `xml_text`

Text without control characters or markup comes out as it went in, so the outputs of ordinary
cases are unchanged.
"""
from __future__ import annotations

import re

# --- plain text -------------------------------------------------------------------------------

# every character that some reader takes for the end of a line (str.splitlines does all of
# these), and tabs, which would break a table's columns
_BREAK = re.compile("\r\n|[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")
# characters a terminal or a viewer acts on instead of showing: the other C0 and C1 controls
# (ESC starts an escape sequence), DEL, and the marks and overrides that reorder text as it is
# displayed (a reviewer would read something other than what is there)
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"
                      "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text) -> str:
    """Text as one line that shows what is written: each line break (and tab) a space, every
    other control character an escape that can be read (`\\x1b`, `\\u202e`)."""
    return _CONTROL.sub(_shown, _BREAK.sub(" ", str(text)))


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"[\\`*<\[\]~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# in a table cell of a renderer that also makes links of bare addresses (`http:`), takes
# entities (`&lt;`) and ends the cell at `|`: every one of them, and every `_`
_MD_STRICT = re.compile(r"[\\`*_\[\]<>|~&:]")
# what would open a block at the start of a line: a heading, a quote, a list item, a rule
_BLOCK_START = re.compile(r"#{1,6}(?=\s|$)|>|[-+](?=\s|$)|[-=]+\s*$|\d{1,9}(?=[.)](?:\s|$))")


def md_text(text, *, strict: bool = False) -> str:
    """Text as inline Markdown: one line, and no character that would start emphasis, code, a
    link, HTML or (at the start of a line) a heading, a quote or a list. `strict`: for a table
    cell, also `|`, `&`, `:`, `>` and every `_`."""
    text = " ".join(one_line(text).split())
    if strict:
        return _MD_STRICT.sub(lambda m: "\\" + m.group(), text)
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), text)
    start = _BLOCK_START.match(text)
    if start:  # "1. x" -> "1\. x"; "# x" -> "\# x"
        at = start.end() if start.group().isdigit() else 0
        text = text[:at] + "\\" + text[at:]
    return text


def md_code(text) -> str:
    """Text as a Markdown code span, whatever backticks it holds: one line."""
    text = " ".join(one_line(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# --- GitHub workflow commands -----------------------------------------------------------------

def workflow_data(text) -> str:
    """A workflow command's message, as GitHub's toolkit escapes it (`escapeData`): `%`, CR
    and LF, so that no text ends the command or starts another. The message's own line breaks
    are kept; control characters in it are shown as escapes (the log would act on them)."""
    text = _CONTROL.sub(_shown, str(text))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text) -> str:
    """A workflow command's property value (file, title), as GitHub's toolkit escapes it
    (`escapeProperty`): also `:`, which would end the properties, and `,`, which would start
    another one."""
    return workflow_data(one_line(text)).replace(":", "%3A").replace(",", "%2C")


# --- XML --------------------------------------------------------------------------------------

# characters XML 1.0 cannot carry, even escaped
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value) -> str:
    """Text for an XML attribute or element (the XML library escapes `<`, `&` and quotes):
    each character XML cannot carry replaced by U+FFFD, and the controls it can carry but a
    viewer acts on shown as escapes."""
    return _CONTROL.sub(_shown, _NOT_XML.sub("\ufffd", str(value)))
