"""The plugin manager: entry-point loading, the two environment variables, and every failure mode."""

from __future__ import annotations

import types

import pytest

import seqkit
from seqkit import PluginError, PluginManager, Spec
from tests.helpers import make_distribution


def plugin(**hooks):
    """An in-process plugin object whose functions are marked as hook implementations."""
    return types.SimpleNamespace(**{name: seqkit.hookimpl(fn) for name, fn in hooks.items()})


def cell_spec(name):
    from seqkit_gru.cell import GRUCell

    return Spec(name, build=GRUCell, description="test cell")


def test_builtin_plugins_load_through_entry_points():
    manager = PluginManager()
    infos = {p.name: p for p in manager.plugins}
    assert {"gru", "lstm", "rnn", "native"} <= set(infos)
    assert infos["gru"].distribution == "seqkit"
    assert infos["gru"].version == seqkit.__version__
    assert infos["gru"].registers == {"cells": ["gru"]}
    assert "gru/native" in infos["native"].registers["kernels"]
    assert manager.cells.get("lstm").provenance.plugin == "lstm"


def test_unknown_name_gets_the_closest_valid_names():
    with pytest.raises(
        seqkit.UnknownNameError, match=r"unknown cell 'gur'; did you mean 'gru'\? Available cells: .*lstm"
    ):
        PluginManager().cells.get("gur")


def test_create_rnn_with_unknown_kind_suggests():
    with pytest.raises(seqkit.UnknownNameError, match="did you mean 'lstm'"):
        seqkit.create_rnn("lstn", 2, 3)


def test_load_only_listed_plugins(monkeypatch):
    monkeypatch.setenv("SEQKIT_PLUGINS", "gru, native")
    manager = PluginManager()
    assert {p.name for p in manager.plugins} == {"gru", "native"}
    assert manager.cells.names() == ["gru"]
    with pytest.raises(seqkit.UnknownNameError, match="unknown cell 'lstm'"):
        manager.cells.get("lstm")


def test_empty_load_list_loads_nothing(monkeypatch):
    monkeypatch.setenv("SEQKIT_PLUGINS", "")
    manager = PluginManager()
    assert manager.plugins == []
    with pytest.raises(seqkit.UnknownNameError, match="no cells are registered"):
        manager.cells.get("gru")


def test_load_list_naming_a_missing_plugin_is_an_error(monkeypatch):
    monkeypatch.setenv("SEQKIT_PLUGINS", "gruu")
    with pytest.raises(
        PluginError, match=r"SEQKIT_PLUGINS names plugin 'gruu', which is not installed; did you mean 'gru'"
    ):
        PluginManager()


def test_disabled_plugins_are_not_loaded(monkeypatch):
    monkeypatch.setenv("SEQKIT_DISABLE_PLUGINS", "native,onednn")
    layer = seqkit.create_rnn("gru", 2, 3)
    assert "native" not in {p.name for p in seqkit.get_plugin_manager().plugins}
    assert layer.backend == "generic"


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(tmp_path, monkeypatch):
    make_distribution(
        tmp_path,
        "seqkit-broken",
        "1.2.3",
        {"broken": "seqkit_broken"},
        {"seqkit_broken": "import frobnicate_missing_module\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as error:
        PluginManager()
    message = str(error.value)
    assert "\n" not in message
    assert "plugin 'broken' (distribution seqkit-broken 1.2.3) failed to import" in message
    assert "frobnicate_missing_module" in message
    assert "SEQKIT_DISABLE_PLUGINS=broken" in message

    monkeypatch.setenv("SEQKIT_DISABLE_PLUGINS", "broken")
    assert "gru" in PluginManager().cells


def test_a_third_party_plugin_on_the_path_is_discovered(tmp_path, monkeypatch):
    make_distribution(
        tmp_path,
        "seqkit-extra",
        "0.3",
        {"extra": "seqkit_extra"},
        {
            "seqkit_extra": """
            import seqkit
            from seqkit_rnn.cell import ElmanCell

            @seqkit.hookimpl
            def register_cells(register):
                register(seqkit.Spec("elman2", build=ElmanCell))
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager()
    info = {p.name: p for p in manager.plugins}["extra"]
    assert (info.distribution, info.version, info.registers) == ("seqkit-extra", "0.3", {"cells": ["elman2"]})
    assert seqkit.create_rnn("elman2", 2, 3, plugins=manager).kind == "elman2"


def test_two_installed_plugins_with_one_name_are_an_error(tmp_path, monkeypatch):
    make_distribution(tmp_path, "seqkit-other-gru", "2.0", {"gru": "seqkit_other_gru"}, {"seqkit_other_gru": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"two installed plugins are named 'gru'.*seqkit-other-gru 2\.0"):
        PluginManager()


def test_the_same_name_registered_by_two_plugins_names_both():
    a = plugin(register_cells=lambda register: register(cell_spec("twin")))
    b = plugin(register_cells=lambda register: register(cell_spec("twin")))
    with pytest.raises(PluginError) as error:
        PluginManager([("first", a), ("second", b)], entry_points=False)
    message = str(error.value)
    assert "cell 'twin' is registered twice" in message
    assert "plugin 'first'" in message and "plugin 'second'" in message


def test_clashing_with_a_builtin_names_its_distribution():
    clash = plugin(register_cells=lambda register: register(cell_spec("gru")))
    with pytest.raises(PluginError, match=r"plugin 'gru' \(distribution seqkit 0\.1\.0\) and by plugin 'mine'"):
        PluginManager([("mine", clash)])


def test_implementing_a_hook_that_does_not_exist_is_an_error():
    typo = plugin(register_cels=lambda register: None)
    with pytest.raises(
        PluginError,
        match=r"plugin 'typo'.* implements 'register_cels', which is not a seqkit hook; "
        r"did you mean 'register_cells'",
    ):
        PluginManager([("typo", typo)], entry_points=False)


def test_a_hook_with_the_wrong_argument_is_an_error():
    wrong = plugin(register_cells=lambda registrar: None)
    with pytest.raises(PluginError, match=r"plugin 'wrong' \(registered in-process\) is invalid: .*registrar"):
        PluginManager([("wrong", wrong)], entry_points=False)


def test_registering_something_that_is_not_a_spec_is_an_error():
    bad = plugin(register_cells=lambda register: register("gru"))
    with pytest.raises(PluginError, match=r"plugin 'bad' .* registered 'gru' as a cell; expected a seqkit\.Spec"):
        PluginManager([("bad", bad)], entry_points=False)


def test_an_exception_inside_a_hook_names_the_plugin():
    def explode(register):
        raise RuntimeError("boom\nsecond line")

    with pytest.raises(
        PluginError, match=r"plugin 'explosive' .* failed in register_cells: RuntimeError: boom second line$"
    ):
        PluginManager([("explosive", plugin(register_cells=explode))], entry_points=False)


def test_in_process_plugins_register_alongside_builtins():
    extra = plugin(register_cells=lambda register: register(cell_spec("gru_copy")))
    manager = PluginManager([("extra", extra)])
    assert {"gru", "gru_copy"} <= set(manager.cells.names())
    assert manager.cells.get("gru_copy").provenance.distribution is None


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"priority": "high"}, "priority must be an integer, got 'high'"),
        ({"run": None}, "run must be callable, got None"),
        ({"name": "reference"}, "the kernel name 'reference' is reserved"),
        ({"name": "auto"}, "the kernel name 'auto' is reserved"),
        ({"cell": "not a name"}, "its cell must be an identifier"),
    ],
)
def test_an_invalid_kernel_spec_is_refused_at_registration(changes, problem):
    from dataclasses import replace

    from seqkit.reference import run_reference

    good = seqkit.KernelSpec(cell="gru", name="mine", run=run_reference, supports=lambda c, d, t: None)
    bad = plugin(register_kernels=lambda register: register(replace(good, **changes)))
    with pytest.raises(PluginError, match=rf"plugin 'bad' .* registered an invalid kernel .*: {problem}"):
        PluginManager([("bad", bad)], entry_points=False)


def test_a_kernel_whose_supports_check_raises_is_named():
    from seqkit.reference import run_reference

    def supports(cell, device, dtype):
        return 1 / 0

    spec = seqkit.KernelSpec(cell="gru", name="fragile", run=run_reference, supports=supports, priority=999)
    manager = PluginManager([("fragile", plugin(register_kernels=lambda register: register(spec)))])
    with pytest.raises(
        PluginError,
        match=r"kernel 'gru/fragile' of plugin 'fragile' .* failed in supports\(\): "
        r"ZeroDivisionError",
    ):
        seqkit.create_rnn("gru", 2, 3, plugins=manager)


def test_tolerant_loading_keeps_the_working_plugins_and_the_errors(tmp_path, monkeypatch):
    make_distribution(tmp_path, "seqkit-broken", "1.0", {"broken": "seqkit_broken"}, {"seqkit_broken": "1/0\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager(strict=False)
    assert "gru" in manager.cells
    assert [str(e) for e in manager.errors] == [
        "plugin 'broken' (distribution seqkit-broken 1.0) failed to import: ZeroDivisionError: division by zero "
        "(skip it with SEQKIT_DISABLE_PLUGINS=broken)"
    ]


def test_a_plugin_name_taken_twice_names_the_first_owner():
    with pytest.raises(
        PluginError, match=r"plugin 'gru' \(registered in-process\): plugin 'gru' \(distribution seqkit"
    ):
        PluginManager([("gru", plugin())])
