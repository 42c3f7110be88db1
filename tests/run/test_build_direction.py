"""One direction of building: validation's task is the run's, layers and the Trainer are made with their settings."""

from __future__ import annotations

import ast
import types
import warnings
from pathlib import Path

import pytest
import torch

import seqkit
from seqkit.environment import EnvironmentMismatch
from seqkit.plugin.manager import get_plugin_manager
from seqkit.recipe.load import load_recipe
from seqkit.recipe.validate import validate
from seqkit.run import train as train_module
from seqkit.run.build import build
from seqkit.run.datamodule import SeqkitData
from seqkit.run.trainer_factory import check_world_size, new_trainer, world_size
from tests.helpers import ROOT
from tests.recipe_helpers import TINY

CORE = ROOT / "seqkit"


def _counting_sentiment(calls: list[object]) -> seqkit.PluginManager:
    """The plugins, plus a task ``counted`` that is the sentiment task with its builder's calls recorded."""
    from seqkit_sentiment.task import SentimentTask

    def counted(pooling: str = "last") -> SentimentTask:
        task = SentimentTask(pooling=pooling)
        calls.append(task)
        return task

    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_tasks(register):
            register(seqkit.Spec("counted", build=counted, description="sentiment, its builds counted"))

    return seqkit.PluginManager([("counted", Plugin)])


def test_the_run_uses_the_task_and_tokenizer_validation_built():
    calls: list[object] = []
    manager = _counting_sentiment(calls)
    recipe = load_recipe("quickstart", [*TINY, "task.kind=counted"])
    validated = validate(recipe, manager)
    assert calls == [validated.task] and validated.tokenizer is not None
    parts = build(recipe, manager, validated=validated, splits=("train", "valid"))
    assert calls == [validated.task]  # not built again
    assert parts.task is validated.task and parts.tokenizer is validated.tokenizer
    assert parts.module.task is validated.task
    with pytest.raises(ValueError, match="another recipe"):
        build(load_recipe("quickstart", TINY), manager, validated=validated)


def test_seqkit_train_builds_the_task_once(tmp_path):
    calls: list[object] = []
    manager = _counting_sentiment(calls)
    recipe = load_recipe("quickstart", [*TINY, "data.size=80", "task.kind=counted", f"run_dir={tmp_path}"])
    train_module.train(recipe, manager)
    assert len(calls) == 1


def test_layers_are_made_with_tbptt_steps_not_given_it_afterwards(monkeypatch):
    kind = seqkit.Recurrent.tbptt_steps
    sets: list[int] = []

    def recording(layer: seqkit.Recurrent, value: int | None) -> None:
        sets.append(id(layer))
        kind.fset(layer, value)

    monkeypatch.setattr(seqkit.Recurrent, "tbptt_steps", property(kind.fget, recording))
    recipe = load_recipe("tagging/gru_toy", ["data.size=40", "task.tbptt_steps=2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no layer without the option, so no warning about one
        parts = build(recipe, get_plugin_manager(), splits=("train", "valid"))
    layers = [m for m in parts.module.model.modules() if isinstance(m, seqkit.Recurrent)]
    # the encoder (the cell factory's) and the character encoder (which the tagging task makes itself)
    assert len(layers) == 2 and all(layer.tbptt_steps == 2 for layer in layers)
    assert all(sets.count(id(layer)) == 1 for layer in layers)  # once each: in its constructor


def test_a_layer_the_task_makes_without_the_option_is_a_warning():
    from seqkit_sentiment.task import SentimentTask

    class OwnLayer(SentimentTask):
        def build_model(self, cell_factory, tokenizer, **options):
            model = super().build_model(cell_factory, tokenizer, **options)
            model.extra = seqkit.create_rnn("gru", 3, 4)  # not through the factory: full BPTT
            return model

    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_tasks(register):
            register(seqkit.Spec("own_layer", build=OwnLayer, description="sentiment with a layer of its own"))

    manager = seqkit.PluginManager([("own_layer", Plugin)])
    recipe = load_recipe("quickstart", [*TINY, "data.size=40", "task.kind=own_layer", "task.tbptt_steps=3"])
    with pytest.warns(UserWarning, match="task.tbptt_steps: 1 seqkit.Recurrent layers .* not built by its cell"):
        build(recipe, manager, splits=("train", "valid"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="counts CPU processes")
@pytest.mark.parametrize(
    "section",
    [
        {},
        {"devices": "auto"},
        {"devices": 2},
        {"devices": "3", "strategy": "ddp"},
        {"devices": 2, "num_nodes": 2},
        {"accelerator": "cpu", "devices": 1, "num_nodes": 3},
        {"devices": 2, "strategy": "ddp_spawn"},
        {"strategy": "single_device", "num_nodes": 2},
    ],
)
def test_the_world_size_known_before_the_trainer_is_lightning_s(section):
    trainer = new_trainer(section, [], **section, logger=False, enable_checkpointing=False)
    assert world_size(section) == trainer.world_size


def test_the_world_size_refuses_what_lightning_refuses_in_one_line():
    with pytest.raises(EnvironmentMismatch, match=r"^trainer\.accelerator=quantum: .*invalid accelerator name"):
        world_size({"accelerator": "quantum"})
    with pytest.raises(EnvironmentMismatch, match=r"^trainer\.num_nodes=0: "):
        world_size({"num_nodes": 0})


def test_a_trainer_on_other_processes_than_planned_is_refused():
    check_world_size(types.SimpleNamespace(world_size=2), 2)
    with pytest.raises(EnvironmentMismatch, match="Lightning runs 4 processes, but .* make 2"):
        check_world_size(types.SimpleNamespace(world_size=4), 2)


def test_the_trainer_and_data_module_are_made_with_the_batch_plan(tmp_path, monkeypatch):
    made: dict[str, object] = {}
    original_trainer, original_init = train_module.new_trainer, SeqkitData.__init__

    def trainer(section, notes, **options):
        made["accumulate"] = options["accumulate_grad_batches"]
        made["trainer"] = original_trainer(section, notes, **options)
        return made["trainer"]

    def data(self, *args, **kwargs):
        made.setdefault("batch_size", kwargs["batch_size"])
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(train_module, "new_trainer", trainer)
    monkeypatch.setattr(SeqkitData, "__init__", data)
    overrides = [*TINY, "data.size=80", "data.batch_size=8", "data.global_batch_size=32", f"run_dir={tmp_path}"]
    train_module.train(load_recipe("quickstart", overrides))
    assert made["accumulate"] == 4 and made["batch_size"] == 8
    assert made["trainer"].accumulate_grad_batches == 4


def _calls(name: str, package: Path) -> list[str]:
    """The modules under *package* that call a function or class named *name* (``pl.Trainer(...)`` included)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if callee == name:
                    found.append(str(path.relative_to(CORE)))
    return sorted(set(found))


def test_one_trainer_factory_and_one_bench_timer():
    assert _calls("Trainer", CORE) == ["run/trainer_factory.py"]
    assert _calls("perf_counter", CORE / "bench") == ["bench/timing.py"]
    assert _calls("Event", CORE / "bench") == ["bench/timing.py"]


def test_the_bench_timer_warms_up_then_times_each_round():
    from seqkit.bench.timing import measure

    counts = {"a": 0, "b": 0}

    def runner(name: str):
        return lambda: counts.__setitem__(name, counts[name] + 1)

    medians = measure({"a": runner("a"), "b": runner("b")}, repeat=3, warmup=2, device=torch.device("cpu"))
    assert counts == {"a": 5, "b": 5} and set(medians) == {"a", "b"}
    assert all(seconds >= 0 for seconds in medians.values())
