"""The hooks are typed, and mypy checks every hook implementation (built-in plugins, example packages) against them."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

import seqkit
from seqkit import hookspecs
from tests.helpers import ROOT

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "seqkit_spec")]


def mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_mypy_passes_on_the_hooks_and_every_hook_implementation():
    result = mypy()
    assert result.returncode == 0, result.stdout
    assert "Success" in result.stdout


def test_mypy_catches_a_plugin_that_registers_the_wrong_kind(tmp_path):
    plugin = tmp_path / "seqkit_wrong.py"
    plugin.write_text(
        textwrap.dedent(
            """
            import seqkit
            from seqkit.hookspecs import RegisterCell


            @seqkit.hookimpl
            def register_cells(register: RegisterCell) -> None:
                register(seqkit.KernelSpec("gru", "fast", run=print, supports=lambda *a: None))
            """
        )
    )
    result = mypy(str(plugin))
    assert result.returncode == 1
    assert "seqkit_wrong.py:8: error: Argument 1" in result.stdout
    assert 'has incompatible type "KernelSpec"; expected "Spec"' in result.stdout


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_takes_a_typed_register(hook):
    hint = typing.get_type_hints(getattr(hookspecs, hook))["register"]
    assert hint in (hookspecs.RegisterSpec, hookspecs.RegisterKernel)


def test_every_builtin_hook_implementation_is_annotated_with_its_hooks_type():
    manager = seqkit.PluginManager()
    checked = 0
    for info in manager.plugins:
        for impl in manager._pm.get_hookcallers(manager._pm.get_plugin(info.name)) or []:
            for hookimpl in impl.get_hookimpls():
                if hookimpl.plugin_name != info.name:
                    continue
                expected = typing.get_type_hints(getattr(hookspecs, impl.name))["register"]
                got = typing.get_type_hints(hookimpl.function).get("register")
                assert got is expected, f"plugin '{info.name}': {impl.name}(register: {got}), expected {expected}"
                checked += 1
    assert checked >= 9
