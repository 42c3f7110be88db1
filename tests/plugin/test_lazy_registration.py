"""Registrations by name (``"module:attribute"``, imported on first use) and clashes between two plugins' names."""

from __future__ import annotations

import json
import types

import pytest

import seqkit
from seqkit import PluginError, PluginManager, Spec
from seqkit.cli import main
from seqkit.lazy import LazyRef
from tests.helpers import make_distribution


def plugin(**hooks):
    return types.SimpleNamespace(**{name: seqkit.hookimpl(fn) for name, fn in hooks.items()})


def test_the_built_ins_register_by_name_and_build_the_real_thing():
    manager = PluginManager()
    build = manager.cells.get("gru").build
    assert repr(build) == "<lazy seqkit_gru.cell:GRUCell>"
    cell = seqkit.create_rnn("gru", 3, 4, plugins=manager).cells[0]
    assert type(cell).__name__ == "GRUCell"
    assert build.__name__ == "GRUCell"  # inspected like the class it names
    assert repr(manager.kernels.get("gru/native").run).startswith("<lazy seqkit_native.fused:")


def test_a_name_string_checks_options_against_the_real_signature():
    cell = Spec("lazy_gru", build="seqkit_gru.cell:GRUCell")
    manager = PluginManager([("lazy", plugin(register_cells=lambda register: register(cell)))], entry_points=False)
    with pytest.raises(seqkit.SeqkitError, match="reset_afte"):
        seqkit.create_rnn("lazy_gru", 3, 4, plugins=manager, reset_afte=True)
    layer = seqkit.create_rnn("lazy_gru", 3, 4, plugins=manager, reset_after=False)
    assert layer.cells[0].reset_after is False


def test_a_name_that_cannot_be_imported_is_the_plugin_s_error_when_first_built():
    cell = Spec("ghost", build="seqkit_no_such_module.cells:Ghost")
    manager = PluginManager([("haunted", plugin(register_cells=lambda register: register(cell)))], entry_points=False)
    assert "ghost" in manager.cells  # registering imports nothing
    with pytest.raises(PluginError) as error:
        manager.cells.get("ghost").build(3, 4)
    message = str(error.value)
    assert "'ghost' of plugin 'haunted' (registered in-process)" in message
    assert "'seqkit_no_such_module.cells:Ghost' could not be loaded: ModuleNotFoundError" in message


def test_a_name_that_is_not_callable_is_refused_when_used():
    cell = Spec("constant", build="seqkit.kernels:AUTO")
    manager = PluginManager([("odd", plugin(register_cells=lambda register: register(cell)))], entry_points=False)
    with pytest.raises(PluginError, match=r"'seqkit.kernels:AUTO' names str 'auto', which is not callable"):
        manager.cells.get("constant").build(1, 1)


@pytest.mark.parametrize("target", ["seqkit_gru.cell.GRUCell", "seqkit_gru.cell:", "seqkit gru:GRUCell", ""])
def test_a_malformed_name_is_refused_at_registration(target):
    bad = plugin(register_cells=lambda register: register(Spec("bad", build=target)))
    with pytest.raises(PluginError, match="build must be callable or a 'package.module:attribute' string"):
        PluginManager([("bad", bad)], entry_points=False)


def _twin(name: str) -> str:
    return f"""
import seqkit

@seqkit.hookimpl
def register_cells(register):
    register(seqkit.Spec("twin", build="seqkit_gru.cell:GRUCell"))
    register(seqkit.Spec("{name}", build="seqkit_gru.cell:GRUCell"))
"""


@pytest.fixture
def clash(tmp_path, monkeypatch):
    """Two installed distributions that both register a cell called ``twin`` (and one cell of their own each)."""
    make_distribution(tmp_path, "seqkit-one", "1.0", {"one": "seqkit_one"}, {"seqkit_one": _twin("solo_one")})
    make_distribution(tmp_path, "seqkit-two", "2.0", {"two": "seqkit_two"}, {"seqkit_two": _twin("solo_two")})
    monkeypatch.syspath_prepend(str(tmp_path))


CLASH = (
    "cell 'twin' is registered twice: by plugin 'one' (distribution seqkit-one 1.0) and by plugin 'two' "
    "(distribution seqkit-two 2.0)"
)


def test_plugins_lists_everything_else_and_names_the_clash_in_one_line(clash, capsys):
    assert main(["plugins"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and CLASH in err
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"gru", "lstm", "native", "one", "two"} <= set(rows)
    assert "cells: twin, solo_one" in rows["one"]
    assert "cells: solo_two" in rows["two"] and "twin" not in rows["two"]


def test_plugins_json_lists_everything_else(clash, capsys):
    assert main(["plugins", "--json"]) == 2
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["two"]["registers"] == {"cells": ["solo_two"]}
    assert "gru" in listed


@pytest.mark.parametrize("argv", [["ls", "cells"], ["validate", "quickstart"]])
def test_other_commands_refuse_the_clash(clash, capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and CLASH in err
    assert "SEQKIT_DISABLE_PLUGINS" in err


def test_a_kernel_named_by_a_broken_module_is_its_plugin_s_error_when_a_layer_is_built():
    kernel = seqkit.KernelSpec(
        cell="gru", name="ghostly", run="seqkit_no_such.kernel:run", supports="seqkit_no_such:ok"
    )
    manager = PluginManager([("ghosts", plugin(register_kernels=lambda register: register(kernel)))])
    assert "ghostly" in {k.name for k in manager.kernels}  # listed without importing anything
    with pytest.raises(PluginError, match=r"'gru/ghostly' of plugin 'ghosts' .*'seqkit_no_such.kernel:run' could not"):
        seqkit.create_rnn("gru", 2, 3, plugins=manager)


def test_a_layer_imports_its_kernels_when_built_not_when_torch_compile_traces_it():
    # an import inside forward() is a graph break for torch.compile(fullgraph=True)
    # (tests/plugins/seqkit_triton/test_triton.py)
    layer = seqkit.create_rnn("gru", 2, 3, backend="native")
    functions = [f for k in layer._kernel_options for f in (k.run, k.supports, k.auto_skip, k.auto_rule)]
    assert functions and not any(isinstance(f, LazyRef) for f in functions)


def test_a_module_first_imported_inside_a_meta_device_context_makes_its_tensors_on_the_cpu(tmp_path, monkeypatch):
    # validation builds models under torch.device("meta"): a plugin's module-level constant must not land there
    import torch

    (tmp_path / "seqkit_constant_cell.py").write_text(
        "import torch\nfrom seqkit_gru.cell import GRUCell\nWORKSPACE = torch.empty(0)\nBuild = GRUCell\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cell = Spec("constant_gru", build="seqkit_constant_cell:Build")
    manager = PluginManager([("constant", plugin(register_cells=lambda register: register(cell)))])
    with torch.device("meta"), torch.inference_mode():
        layer = seqkit.create_rnn("constant_gru", 2, 3, plugins=manager)
    import seqkit_constant_cell

    assert next(layer.parameters()).device.type == "meta"  # the context still applies to what the call builds
    assert seqkit_constant_cell.WORKSPACE.device.type == "cpu"
    assert not seqkit_constant_cell.WORKSPACE.is_inference()
