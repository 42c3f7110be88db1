"""A task's own predict options: declared on the task, offered as flags by `seqkit predict` and checked by serve."""

from __future__ import annotations

import types

import pytest

import seqkit
from seqkit import PluginManager, PredictOption, Spec, Task
from seqkit.cli import build_parser


class Sampler(Task):
    """A third-party task with an option of its own (no built-in task has it)."""

    predict_options = (PredictOption("temperature", "sampling temperature", float, "T", minimum=0.0),)


def third_party() -> PluginManager:
    hooks = types.SimpleNamespace(register_tasks=seqkit.hookimpl(lambda register: register(Spec("sampler", Sampler))))
    return PluginManager([("sampling", hooks)], entry_points=False)


def test_a_third_party_task_s_option_is_a_predict_flag_with_its_help(capsys):
    seqkit.set_plugin_manager(third_party())
    parser = build_parser("predict")
    args = parser.parse_args(["predict", "best.ckpt", "a text", "--temperature", "0.5"])
    assert args.temperature == 0.5 and args.task_options == ["temperature"]
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "best.ckpt", "--temperature", "-1"])
    assert "expected a number >= 0.0, got -1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "--help"])
    shown = capsys.readouterr().out
    assert "--temperature T" in shown and "sampler: sampling temperature" in shown
    assert "--beam-size" not in shown  # only the installed tasks' options: the built-ins are not loaded here


def test_the_built_in_generation_tasks_declare_theirs_and_other_commands_load_no_plugins():
    help_text = build_parser("predict")._subparsers._group_actions[0].choices["predict"].format_help()
    assert "--beam-size K" in help_text and "translation" in help_text
    other = build_parser("ls")._subparsers._group_actions[0].choices["predict"].format_help()
    assert "--beam-size" not in other  # the flags need the plugins, which only `predict` loads


def test_an_option_checks_json_values_as_the_flag_checks_text():
    option = PredictOption("beam_size", "beam width", int, "K", minimum=1)
    assert option.check(3) == 3 and option.flag == "--beam-size"
    for bad in (0, True, 2.5, "3"):
        with pytest.raises(ValueError, match="expected a positive integer"):
            option.check(bad)


def test_each_built_in_task_registers_the_predict_options_its_class_declares() -> None:
    """`seqkit predict --help` reads them from the registration (no torch); predict itself from the class."""
    from seqkit.plugin.manager import get_plugin_manager
    from seqkit.predict_options import declared

    tasks = list(get_plugin_manager().tasks)
    assert tasks
    for spec in tasks:
        assert spec.predict_options is not None, f"task '{spec.name}' does not register its predict options"
        assert tuple(spec.predict_options) == declared(spec.build), spec.name


def test_a_registration_s_predict_options_are_checked() -> None:
    assert seqkit.Spec("t", build=dict, predict_options=("beam",)).problem().startswith("predict_options must be")
    option = PredictOption("beam", "width", int)
    assert seqkit.Spec("t", build=dict, predict_options=(option,)).problem() is None


def test_registered_options_are_read_without_importing_the_task() -> None:
    from seqkit.predict_options import every_task_option

    option = PredictOption("beam", "width", int)
    spec = seqkit.Spec("t", build="no_such_module_anywhere:Task", predict_options=(option,))
    assert every_task_option([spec]) == {"beam": (option, ["t"])}  # the module would not import
