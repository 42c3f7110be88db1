"""`seqkit bench cells --cells a,b` narrows the table; every cell, a plugin's too, gets a torch.nn.GRU row."""

from __future__ import annotations

import json

import torch

import seqkit
from tests.recipe_helpers import cli

TINY = ["--batch", "2", "--steps", "3", "--input", "3", "--hidden", "4", "--repeat", "1", "--warmup", "1"]


class Elman(seqkit.Cell):
    """A plugin cell torch.nn has no equivalent of (its recurrent weight is a vector)."""

    def parameter_shapes(self):
        return {"weight_ih": (self.hidden_size, self.input_size), "weight_hh": (self.hidden_size,)}

    def step(self, params, u_t, state):
        h = torch.tanh(u_t @ params["weight_ih"].T + params["weight_hh"] * state[0])
        return h, (h,)


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("diag", build=Elman))


def test_bench_cells_runs_only_the_named_cells(capsys):
    code, out, err = cli(capsys, "bench", "cells", "--cells", "rnn", *TINY, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [c["cell"] for c in report["cells"]] == ["rnn"]
    assert "torch.nn.GRU" in [r["backend"] for r in report["cells"][0]["results"]]
    code, _, err = cli(capsys, "bench", "cells", "--cells", "rnx", *TINY)
    assert code == 2 and "unknown cell 'rnx'; did you mean 'rnn'?" in err


def test_bench_of_a_plugin_cell_has_a_gru_row_of_the_same_size(capsys):
    seqkit.set_plugin_manager(seqkit.PluginManager([("diag", Plugin)]))
    code, out, err = cli(capsys, "bench", "diag", *TINY, "--backends", "generic", "--json")
    assert code == 0, err
    rows = {r["backend"]: r for r in json.loads(out)["results"]}
    assert rows["torch.nn.GRU"]["ratio_to_torch_nn"] == 1.0 and rows["generic"]["ratio_to_torch_nn"] > 0


class ScaledElman(Elman):
    """A plugin cell with a second formulation it declares worth its own bench row."""

    bench_variants = ({"scale": 0.5},)

    def __init__(self, input_size: int, hidden_size: int, *, scale: float = 1.0) -> None:
        super().__init__(input_size, hidden_size)
        self.scale = scale

    def step(self, params, u_t, state):
        h, _ = super().step(params, u_t, state)
        return self.scale * h, (self.scale * h,)


class VariantPlugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("scaled", build=ScaledElman))


def test_a_plugin_cell_s_declared_bench_variants_get_rows_of_their_own(capsys):
    seqkit.set_plugin_manager(seqkit.PluginManager([("scaled", VariantPlugin)]))
    code, out, err = cli(capsys, "bench", "cells", "--cells", "scaled", *TINY, "--json")
    assert code == 0, err
    assert [(c["cell"], c["options"]) for c in json.loads(out)["cells"]] == [("scaled", {}), ("scaled", {"scale": 0.5})]
