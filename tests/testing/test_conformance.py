"""The conformance kit over every registered cell, kernel, task and dataset; and broken cells it must catch."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.cell import torch_style_shapes
from seqkit.testing import ConformanceError, DataUnavailable, check_cell, check_dataset, check_kernel, check_task
from tests.helpers import cell_plugin, data_absent

MANAGER = seqkit.PluginManager()
KERNELS = [
    (k.cell, k.name)
    for k in MANAGER.kernels
    if k.supports(MANAGER.cells.get(k.cell).build(2, 3), torch.device("cpu"), torch.float32) is None
]
# Built-in datasets' options for a check: local files from $SEQKIT_DATA, or generated records.
DATASETS = {
    "sentence_polarity": {"path": "sentence_polarity"},
    "synthetic_sentiment": {"size": 200},
    "synthetic_pairs": {"size": 200},
    "tatoeba": {"path": "tatoeba_deu_eng/deu-eng.tsv"},
    "multi30k": {"path": "multi30k"},
    "scitldr": {"path": "scitldr"},
    "conll": {"path": "conll2002"},
    "synthetic_tagging": {"size": 120},
    "table": None,  # needs a file: written by the test
    "lines_per_label": None,
}


def test_every_registered_entry_has_a_conformance_test():
    assert {"gru", "lstm", "rnn", "ln_gru", "ln_lstm"} <= set(MANAGER.cells.names())
    assert {("gru", "native"), ("lstm", "native"), ("rnn", "native")} <= set(KERNELS)
    assert set(MANAGER.datasets.names()) == set(DATASETS)
    assert sorted(MANAGER.tasks.names()) == ["sentiment", "summarization", "tagging", "translation"]


@pytest.mark.parametrize("kind", MANAGER.cells.names())
def test_cell(kind):
    assert "gradients" in check_cell(kind, plugins=MANAGER)


def test_gru_reset_before_formulation():
    check_cell("gru", plugins=MANAGER, options={"reset_after": False})


@pytest.mark.parametrize("cell,kernel", KERNELS)
def test_kernel(cell, kernel):
    assert "parity" in check_kernel(cell, kernel, plugins=MANAGER)


def test_task():
    check_task("sentiment", dataset="synthetic_sentiment", dataset_options={"size": 200}, plugins=MANAGER)


@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_tagging_task(output):
    model = {"output": output, "embed_dim": 8, "chars": {"kind": "gru", "embed_dim": 4, "hidden_size": 4}}
    check_task(
        "tagging", dataset="synthetic_tagging", dataset_options={"size": 120}, model_options=model, plugins=MANAGER
    )


@pytest.mark.parametrize(
    ("kind", "options"),
    [("translation", {}), ("translation", {"shared_vocab": False}), ("summarization", {"copy": True})],
)
def test_generation_tasks(kind, options):
    pairs = {"size": 120, "max_length": 6}
    model = {"embed_dim": 8}
    check_task(kind, dataset="synthetic_pairs", dataset_options=pairs, model_options=model, plugins=MANAGER, **options)


@pytest.mark.parametrize("kind", [k for k, options in DATASETS.items() if options is not None])
def test_dataset(kind):
    try:
        check_dataset(kind, plugins=MANAGER, **DATASETS[kind])
    except DataUnavailable as error:
        data_absent(str(error))


def test_file_datasets(tmp_path):
    (tmp_path / "t.tsv").write_text("text\tlabel\ngood film\tpos\nbad film\tneg\n" * 5)
    check_dataset("table", plugins=MANAGER, path=str(tmp_path / "t.tsv"))
    (tmp_path / "p.txt").write_text("good\nfine\n" * 5)
    (tmp_path / "n.txt").write_text("bad\ndull\n" * 5)
    check_dataset(
        "lines_per_label", plugins=MANAGER, files={"pos": str(tmp_path / "p.txt"), "neg": str(tmp_path / "n.txt")}
    )


def test_a_missing_data_file_says_so(tmp_path):
    with pytest.raises(
        DataUnavailable,
        match=r"dataset 'table' \(plugin 'text' \(distribution seqkit 0.1.0\)\): its data is not here: .*not found",
    ):
        check_dataset("table", plugins=MANAGER, path=str(tmp_path / "absent.tsv"))


# --- broken cells: each fails the check that matches its bug, with a message that says what is wrong -----


class Elman(seqkit.Cell):
    def parameter_shapes(self):
        return torch_style_shapes(self, gates=1)

    def project(self, params, x):
        return F.linear(x, params["weight_ih"], params["bias_ih"])

    def step(self, params, u_t, state):
        h = torch.tanh(u_t + F.linear(state[0], params["weight_hh"], params["bias_hh"]))
        return h, (h,)


class WrongStateShape(Elman):
    state_names = ("h", "c")  # declares two components but returns one


class WrongGradient(Elman):
    def step(self, params, u_t, state):
        # the recurrent term is detached: its forward is right, its gradient is not
        h = torch.tanh(u_t + F.linear(state[0], params["weight_hh"].detach(), params["bias_hh"]))
        return h, (h,)


class WrongStateWidth(Elman):
    def step(self, params, u_t, state):
        h, _ = super().step(params, u_t, state)
        return h, (torch.cat([h, h], dim=-1),)  # the state is twice as wide as state_sizes says


class IgnoresLengths(Elman):
    def project(self, params, x):
        # mixes every time step, padding included, into each step's input
        return F.linear(x + x.mean(dim=-2, keepdim=True), params["weight_ih"], params["bias_ih"])


def test_a_correct_cell_passes():
    passed = check_cell("elman", plugins=cell_plugin("elman", Elman))
    assert passed[-2:] == ["training", "generic kernel"]


@pytest.mark.parametrize(
    "cell_type,check,message",
    [
        (WrongStateShape, "state layout", r"step returned 1 state component\(s\), expected 2 \('h', 'c'\)"),
        (
            WrongStateWidth,
            "state layout",
            r"step: state component 'h' has shape \(2, 8\), expected \(batch, 4\) = \(2, 4\) from state_sizes",
        ),
        (WrongGradient, "gradients", r"autograd's gradient of weight_hh_l0 differs from finite differences"),
        (IgnoresLengths, "lengths", r"sequence 1 \(length 2 of 6\) gives other outputs padded than alone"),
    ],
)
def test_a_broken_cell_fails_the_matching_check(cell_type, check, message):
    with pytest.raises(
        ConformanceError, match=rf"^cell 'broken' \(plugin 'broken' \(registered in-process\)\): {check}: {message}"
    ) as info:
        check_cell("broken", plugins=cell_plugin("broken", cell_type))
    assert info.value.check == check
