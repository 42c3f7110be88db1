"""The fenced code blocks of the Markdown docs, and how the docs test treats each (see CONTRIBUTING.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT

# run by the docs test unless marked `no-test: REASON`; `console` runs only its `$ ` lines
RUNNABLE = frozenset({"bash", "sh", "console", "python"})
# shown, never run (a recipe fragment, a file layout, output); `file=NAME` writes one into the working folder
SHOWN = frozenset({"text", "yaml", "toml", "json", "ini"})
NO_TEST = "no-test:"
MIN_REASON_WORDS = 2

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, what its info string asks, and its text."""

    doc: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    slow: bool = False
    needs_data: bool = False
    skip_reason: str | None = None  # set by `no-test: REASON`
    file: str | None = None  # `file=NAME`: written to the working folder, not run
    exit_status: int = 0  # `exit=N`: the status the block's commands end with
    problems: tuple[str, ...] = ()  # what is wrong with the info string

    @property
    def where(self) -> str:
        doc = self.doc.relative_to(ROOT) if self.doc.is_relative_to(ROOT) else self.doc
        return f"{doc}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether the docs test executes this block (in its slow run, if the block is `slow`)."""
        return self.language in RUNNABLE and self.skip_reason is None and self.file is None


def documents() -> list[Path]:
    """Every Markdown page a user reads: the README, CONTRIBUTING, recipes/README and everything under docs/."""
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "recipes" / "README.md"]
    return [p for p in pages if p.exists()] + sorted((ROOT / "docs").rglob("*.md"))


def blocks(doc: Path) -> list[Block]:
    """The fenced blocks of *doc*, in order; an opening fence of N backticks closes at N or more."""
    found = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        body = []
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        found.append(_block(doc, i + 1, info, "\n".join(body) + "\n"))
        i = j + 1
    return found


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _block(doc: Path, line: int, info: str, text: str) -> Block:
    head, _, reason = info.partition(NO_TEST)
    words = head.split()
    problems = []
    if not words:
        problems.append("a block needs a language (`text` for output or a diagram)")
        return Block(doc, line, "", text, problems=tuple(problems))
    language, options = words[0], dict(slow=False, needs_data=False, file=None, exit_status=0)
    if language not in RUNNABLE | SHOWN:
        problems.append(f"unknown language {language!r}; expected one of {sorted(RUNNABLE | SHOWN)}")
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if word == "slow":
            options["slow"] = True
        elif word == "data":
            options["needs_data"] = True
        elif key == "file" and eq and value:
            options["file"] = value
        elif key == "exit" and eq and value.isdigit():
            options["exit_status"] = int(value)
        else:
            problems.append(f"unknown word {word!r} in the info string; expected slow, data, file=NAME, exit=N")
    skip_reason = None
    if NO_TEST in info:
        skip_reason = reason.strip()
        if len(skip_reason.split()) < MIN_REASON_WORDS:
            problems.append("`no-test:` needs a reason, e.g. `no-test: needs a CUDA GPU`")
    return Block(doc, line, language, text, skip_reason=skip_reason, problems=tuple(problems), **options)


def shell_script(block: Block) -> str:
    """The commands a `bash`/`sh` block runs, or a `console` block's `$ ` lines (with their continuations)."""
    if block.language != "console":
        return block.text
    commands, continuing = [], False
    for line in block.text.splitlines():
        if continuing or line.startswith("$ "):
            commands.append(line if continuing else line[2:])
            continuing = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


_PLACEHOLDER = re.compile(r"(?P<folder>[\w./-]+)/<timestamp>")


def fill_placeholders(script: str, cwd: Path) -> str:
    """``runs/quickstart/<timestamp>`` stands for the newest run there, as a reader would fill it in."""

    def newest(match: re.Match[str]) -> str:
        folder = cwd / match["folder"]
        if not folder.is_dir():
            return match[0]
        runs = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[:1].isdigit())
        return f"{match['folder']}/{runs[-1]}" if runs else match[0]

    return _PLACEHOLDER.sub(newest, script)
