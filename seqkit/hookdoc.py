"""The hook reference page, generated from hookspecs.py: ``python -m seqkit.hookdoc > docs/plugins/hooks.md``."""

from __future__ import annotations

import inspect
import re

from seqkit import hookspecs

HEADER = """\
# Hook reference

<!-- Generated from seqkit/hookspecs.py by `python -m seqkit.hookdoc > docs/plugins/hooks.md`; do not edit.
     tests/test_hookspecs.py fails when this page and that file differ. -->

Every hook a seqkit plugin can implement, with the type of what it registers. Mark an implementation
with `@seqkit.hookimpl`, name it after the hook, and annotate `register` with the type shown, so mypy
checks what your plugin registers. Tutorials: [a cell plugin](cell-tutorial.md), [a task
plugin](task-tutorial.md); testing: [testing.md](testing.md).
"""


def hooks() -> list[str]:
    """The hook names, in the order ``hookspecs.py`` defines them."""
    found = [(fn.__code__.co_firstlineno, name) for name, fn in vars(hookspecs).items() if hasattr(fn, "seqkit_spec")]
    return [name for _, name in sorted(found)]


def signature(name: str) -> str:
    fn = getattr(hookspecs, name)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in inspect.signature(fn).parameters.values())
    return f"{name}({params}) -> None"


EXCERPT = "an excerpt of a plugin module; its imports and the cell class are left out"


def markdown(doc: str) -> str:
    """A docstring's reStructuredText idioms as Markdown: ````x````, ``:class:`x```, ``Example::`` blocks."""
    doc = re.sub(r":(?:class|func|data|meth):`([^`]+)`", r"`\1`", doc)
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)

    def block(match: re.Match[str]) -> str:
        code = "\n".join(line[4:] for line in match.group(2).splitlines())
        # an excerpt of a plugin module, without its imports: the docs test (CONTRIBUTING.md) must not run it
        return f"{match.group(1)}:\n\n```python no-test: {EXCERPT}\n{code}\n```"

    return re.sub(r"([^\n]*)::\n\n((?:    [^\n]*\n?|\n)+)", block, doc).rstrip()


def render() -> str:
    parts = [HEADER]
    parts.append("## Types\n")
    for name in ("RegisterSpec", "RegisterKernel"):
        parts.append(f"### `{name}`\n\n{markdown(inspect.getdoc(getattr(hookspecs, name)) or '')}\n")
    aliases = [(n, v) for n, v in vars(hookspecs).items() if n.startswith("Register") and v is hookspecs.RegisterSpec]
    parts.append(
        "Aliases of `RegisterSpec`, one per hook: "
        + ", ".join(f"`{n}`" for n, _ in aliases if n != "RegisterSpec")
        + ".\n"
    )
    for name in hooks():
        parts.append(f"## `{signature(name)}`\n\n{markdown(inspect.getdoc(getattr(hookspecs, name)) or '')}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
