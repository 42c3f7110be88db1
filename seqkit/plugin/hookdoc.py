"""The hook reference page, generated from hookspecs.py: ``python -m seqkit.plugin.hookdoc > docs/plugins/hooks.md``."""

from __future__ import annotations

import inspect
import re

from seqkit import hookspecs

HEADER = """\
# Hook reference

<!-- Generated from seqkit/hookspecs.py by `python -m seqkit.plugin.hookdoc > docs/plugins/hooks.md`; do not edit.
     tests/plugin/test_hookspecs.py fails when this page and that file differ. -->

Every hook a seqkit plugin can implement, with the type of what it registers. Mark an implementation
with `@seqkit.hookimpl`, name it after the hook, and annotate `register` with the type shown, so mypy
checks what your plugin registers. Tutorials: [a cell plugin](cell-tutorial.md), [a task
plugin](task-tutorial.md); testing: [testing.md](testing.md).

## Plugin modules stay light

`seqkit plugins`, `seqkit ls`, `seqkit validate` and `seqkit --help` must start in well under a second, and the
first two import every installed plugin's module and call its `register_*` hooks. So a plugin's top-level module
and its hooks import nothing heavy (torch, Lightning, Triton, Hugging Face tokenizers): name each implementation
as a string `"package.module:attribute"` instead of importing it,

```python no-test: an excerpt of a plugin module; its imports are left out
@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    register(seqkit.Spec("mgu", build="seqkit_mgu.cell:MGUCell", description="minimal gated unit"))
```

and seqkit imports `seqkit_mgu.cell` the first time the entry is built or its options are checked (a recipe
validated, a layer created). `Spec.build` and `KernelSpec.run`, `supports`, `auto_skip` and `auto_rule` take
such strings; the attribute may be dotted (`module:Class.method`). A string that is not of this form is refused
when registered; a module that fails to import, or an attribute that is missing or not callable, is that plugin's
error (exit status 2) when the entry is first used. Every plugin seqkit ships registers this way, and
`tests/cli/test_cli_imports.py` checks that `seqkit plugins` and `seqkit ls` import neither torch nor Lightning.
`seqkit validate` imports the module a `build` string names to read its options, but does not call it: so a
callback's builder lives in a module that imports no Lightning and imports the callback's class when called
(the built-in `ema` does), and `validate` stays free of Lightning.
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
