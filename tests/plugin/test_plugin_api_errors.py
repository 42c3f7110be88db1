"""A plugin builder's plain ValueError/TypeError is that plugin's error: the recipe key path, exit 2, no traceback."""

from __future__ import annotations

import torch

import seqkit
from tests.recipe_helpers import TINY, cli, quickstart, write_recipe


class EvenCell(seqkit.Cell):
    """An Elman-like cell that refuses odd hidden sizes with a plain ValueError, as an outside author writes it."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even, got {hidden_size}")
        super().__init__(input_size, hidden_size)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"weight_ih": (self.hidden_size, self.input_size), "weight_hh": (self.hidden_size, self.hidden_size)}

    def project(self, params: seqkit.Params, x: torch.Tensor) -> torch.Tensor:
        return x @ params["weight_ih"].T

    def step(self, params: seqkit.Params, u_t: torch.Tensor, state: seqkit.State):
        h = torch.tanh(u_t + state[0] @ params["weight_hh"].T)
        return h, (h,)


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("even", build=EvenCell))


def _use(monkeypatch) -> None:
    seqkit.set_plugin_manager(seqkit.PluginManager([("even", Plugin)]))


def test_a_cell_builders_value_error_names_model_cell_and_exits_2(tmp_path, capsys, monkeypatch):
    _use(monkeypatch)
    recipe = quickstart()
    recipe["model"]["cell"] = {"kind": "even", "hidden_size": 7}
    path = write_recipe(tmp_path / "odd.yaml", recipe)
    code, _, err = cli(capsys, "train", path, *TINY[:3], f"run_dir={tmp_path / 'run'}")
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert "odd.yaml:" in line and "model.cell" in line and "cell 'even'" in line
    assert "hidden_size must be even, got 7" in line
    assert "internal error" not in err and "Traceback" not in err


def test_a_tasks_build_model_value_error_names_model_and_exits_2(tmp_path, capsys):
    from seqkit_sentiment.task import SentimentTask

    class Picky(SentimentTask):
        def build_model(self, cell_factory, tokenizer, **options):
            raise ValueError("embed_dim must be a multiple of 16")

    class TaskPlugin:
        @staticmethod
        @seqkit.hookimpl
        def register_tasks(register: seqkit.RegisterTask) -> None:
            register(seqkit.Spec("picky", build=Picky))

    seqkit.set_plugin_manager(seqkit.PluginManager([("picky", TaskPlugin)]))
    recipe = quickstart()
    recipe["task"]["kind"] = "picky"
    path = write_recipe(tmp_path / "picky.yaml", recipe)
    code, _, err = cli(capsys, "train", path, *TINY[:2], f"run_dir={tmp_path / 'run'}")
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert "picky.yaml:" in line and ": model: task 'picky'" in line and "multiple of 16" in line
    assert "internal error" not in err


def test_the_factory_passes_task_built_values_into_cell_options(tmp_path):
    from seqkit.build import cell_factory

    manager = seqkit.PluginManager([("even", Plugin)])
    factory = cell_factory({"kind": "gru", "hidden_size": 4}, manager)
    layer = factory(3, reset_after=False, num_layers=2)
    assert layer.cell_options["reset_after"] is False and layer.num_layers == 2


def test_validate_builds_the_cell_and_reports_its_builders_conflict(tmp_path, capsys, monkeypatch):
    _use(monkeypatch)
    recipe = quickstart()
    recipe["model"]["cell"] = {"kind": "even", "hidden_size": 7}
    path = write_recipe(tmp_path / "odd.yaml", recipe)
    code, _, err = cli(capsys, "validate", path)
    assert code == 2, err
    assert "odd.yaml:" in err and "model.cell: cell 'even' rejected its options: hidden_size must be even" in err
    recipe["model"]["cell"]["hidden_size"] = 8
    code, out, err = cli(capsys, "validate", write_recipe(tmp_path / "even.yaml", recipe))
    assert code == 0 and "ok" in out, err


def test_validate_builds_the_model_and_reports_its_builders_conflict(tmp_path, capsys):
    from seqkit_sentiment.task import SentimentTask

    class Picky(SentimentTask):
        def build_model(self, cell_factory, tokenizer, **options):
            if options["embed_dim"] % 16:
                raise ValueError("embed_dim must be a multiple of 16")
            return super().build_model(cell_factory, tokenizer, **options)

    class TaskPlugin:
        @staticmethod
        @seqkit.hookimpl
        def register_tasks(register: seqkit.RegisterTask) -> None:
            register(seqkit.Spec("picky", build=Picky))

    seqkit.set_plugin_manager(seqkit.PluginManager([("picky", TaskPlugin)]))
    recipe = quickstart()
    recipe["task"]["kind"] = "picky"
    recipe["model"]["embed_dim"] = 20
    code, _, err = cli(capsys, "validate", write_recipe(tmp_path / "picky.yaml", recipe))
    assert code == 2 and "model: task 'picky' could not build its model: embed_dim must be a multiple of 16" in err
