"""zoneout, recurrent_dropout and weight_drop: no-ops in eval, their documented statistics in training, lengths, resume.

Statistical checks use seeded samples large enough that a tolerance of 5 standard deviations (from the
Bernoulli variance) is both tight and never hit by chance.
"""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.cell import torch_style_shapes
from seqkit.regularizers import drop_weights
from seqkit.testing import check_cell
from seqkit.testing.common import as_tuple, weighted_loss
from tests.recipe_helpers import TINY, cli

REGULARIZERS = ("zoneout", "recurrent_dropout", "weight_drop")


def _pair(kind, option, p, **layer):
    """A regularised layer and the plain layer with the same weights."""
    torch.manual_seed(0)
    regularised = seqkit.create_rnn(kind, 3, 8, **layer, **{option: p}).double()
    plain = seqkit.create_rnn(kind, 3, 8, **layer).double()
    plain.load_state_dict(regularised.state_dict())
    return regularised, plain


def _run(layer, x, lengths, seed=7):
    """Outputs, final state parts and every gradient (input included) of a fixed random loss."""
    torch.manual_seed(seed)
    x = x.clone().requires_grad_(True)
    out, state = layer(x, lengths)
    parts = as_tuple(state)
    grads = torch.autograd.grad(weighted_loss(out, parts), [x, *layer.parameters()])
    return [out, *parts, *grads]


def _inputs():
    torch.manual_seed(3)
    return torch.randn(4, 7, 3, dtype=torch.float64), torch.tensor([7, 4, 1, 6])


@pytest.mark.parametrize("option", REGULARIZERS)
@pytest.mark.parametrize("kind", ["gru", "lstm", "ln_gru"])
def test_eval_mode_is_bitwise_the_plain_layer(kind, option):
    regularised, plain = _pair(kind, option, 0.5, num_layers=2, bidirectional=True)
    regularised.eval(), plain.eval()
    x, lengths = _inputs()
    for got, want in zip(_run(regularised, x, lengths), _run(plain, x, lengths)):
        assert torch.equal(got, want)
    assert regularised.backend == plain.backend  # eval keeps the kernel auto chooses (native for gru and lstm)


@pytest.mark.parametrize("option", REGULARIZERS)
def test_p_zero_is_no_regulariser(option):
    regularised, plain = _pair("gru", option, 0.0, num_layers=2, bidirectional=True, dropout=0.3)
    x, lengths = _inputs()
    for got, want in zip(_run(regularised.train(), x, lengths), _run(plain.train(), x, lengths)):
        assert torch.equal(got, want)
    assert regularised.backend == "native"


@pytest.mark.parametrize("option", REGULARIZERS)
def test_training_changes_the_output(option):
    regularised, plain = _pair("gru", option, 0.5)
    x, lengths = _inputs()
    assert not torch.equal(_run(regularised, x, lengths)[0], _run(plain, x, lengths)[0])


# --- weight_drop ---------------------------------------------------------------------------------------------


def test_weight_drop_masks_only_recurrent_matrices_with_mean_one():
    cell = seqkit.get_plugin_manager().cells.get("lstm").build(6, 10)
    params = {n: torch.randn(s, dtype=torch.float64) for n, s in cell.parameter_shapes().items()}
    p, n = 0.3, 4000
    torch.manual_seed(0)
    draws = [drop_weights(cell, params, p) for _ in range(n)]
    for name in ("weight_ih", "bias_ih", "bias_hh"):
        assert all(d[name] is params[name] for d in draws)
    w = params["weight_hh"]
    masked = torch.stack([d["weight_hh"] for d in draws])  # (n, 40, 10)
    assert set((masked / w).round(decimals=6).unique().tolist()) == {0.0, round(1 / (1 - p), 6)}
    # E[W ⊙ m / (1 − p)] = W; each element's sample mean has sd |W|·sqrt(p / (1 − p) / n)
    sd = w.abs() * math.sqrt(p / (1 - p) / n)
    assert bool(((masked.mean(0) - w).abs() <= 5 * sd).all())
    dropped = (masked == 0).double().mean()
    assert abs(float(dropped) - p) < 5 * math.sqrt(p * (1 - p) / masked.numel())


def test_weight_drop_runs_through_the_fused_kernel_with_one_mask_per_call():
    """A training forward on native equals the plain layer on native with the masks drawn the same way."""
    regularised, plain = _pair("gru", "weight_drop", 0.5, num_layers=2, bidirectional=True)
    x, lengths = _inputs()
    torch.manual_seed(11)
    out, state = regularised(x, lengths)
    assert regularised.backend == "native"
    torch.manual_seed(11)
    with torch.no_grad():
        for layer in range(2):
            for d in range(2):
                cell = regularised.cells[layer]
                dropped = drop_weights(cell, regularised.weights(layer, d), 0.5)
                for name, w in plain.weights(layer, d).items():
                    w.copy_(dropped[name])
    want_out, want_state = plain(x, lengths)
    torch.testing.assert_close(out, want_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(state, want_state, atol=1e-12, rtol=0)
    # the gradient reaches only the recurrent weights the mask kept
    torch.manual_seed(11)
    regularised.zero_grad()
    regularised(x, lengths)[0].sum().backward()
    dropped_out = plain.weight_hh_l0 == 0
    assert bool((regularised.weight_hh_l0.grad[dropped_out] == 0).all())
    assert bool((regularised.weight_hh_l0.grad[~dropped_out] != 0).any())


def test_weight_drop_honours_a_cells_recurrent_parameters():
    class TwoRecurrent(seqkit.Cell):
        def parameter_shapes(self):
            return {**torch_style_shapes(self, 1), "memory": (self.hidden_size, self.hidden_size)}

        def recurrent_parameters(self):
            return ("weight_hh", "memory")

        def step(self, params, u_t, state):
            h = torch.tanh(F.linear(u_t, params["weight_ih"]) + state[0] @ params["weight_hh"] @ params["memory"])
            return h, (h,)

    cell = TwoRecurrent(2, 3)
    params = {n: torch.ones(s) for n, s in cell.parameter_shapes().items()}
    torch.manual_seed(0)
    dropped = drop_weights(cell, params, 0.5)
    assert (dropped["memory"] == 0).any() and (dropped["weight_hh"] == 0).any()
    assert dropped["weight_ih"] is params["weight_ih"]


# --- recurrent_dropout ----------------------------------------------------------------------------------------


class Probe(seqkit.Cell):
    """A cell that does not opt in to recurrent masks: it records the first state component it is given."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.seen = []

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, u_t, state):
        self.seen.append(state[0].detach().clone())
        h = torch.ones_like(state[0]) + 0 * u_t[:, :1] * params["weight_hh"].sum()  # the state stays all ones
        return h, (h,)


def _probe_manager():
    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_cells(register):
            register(seqkit.Spec("probe", build=Probe))

    return seqkit.PluginManager([("probe", Plugin)], entry_points=False)


def test_recurrent_dropout_mask_is_fixed_per_sequence_and_direction_with_mean_one():
    p, batch, hidden, steps = 0.4, 256, 32, 5
    layer = seqkit.create_rnn(
        "probe", 2, hidden, bidirectional=True, recurrent_dropout=p, backend="reference", plugins=_probe_manager()
    ).double()  # the step loop as written: the probe's side effect runs every step (a traced step runs it once)
    torch.manual_seed(0)
    layer(torch.randn(batch, steps, 2, dtype=torch.float64), state=torch.ones(2, batch, hidden, dtype=torch.float64))
    seen = torch.stack(layer.cell.seen)  # (2 directions * steps, B, H): the mask itself, as the state is all ones
    forward, reverse = seen[:steps], seen[steps:]
    for masks in (forward, reverse):
        assert all(torch.equal(m, masks[0]) for m in masks)  # constant across time within each sequence
        assert len({tuple(row.tolist()) for row in masks[0]}) > batch - 2  # and different between sequences
        assert set(masks[0].unique().tolist()) == {0.0, 1 / (1 - p)}
        n = masks[0].numel()
        assert abs(float(masks[0].mean()) - 1) < 5 * math.sqrt(p / (1 - p) / n)  # var of one element: p/(1−p)
        assert abs(float((masks[0] == 0).double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert not torch.equal(forward[0], reverse[0])  # each direction has its own mask
    layer.cell.seen.clear()
    layer.eval()(torch.randn(3, steps, 2, dtype=torch.float64), state=torch.ones(2, 3, hidden, dtype=torch.float64))
    assert all(bool((s == 1).all()) for s in layer.cell.seen)  # eval: nothing masked


def gru_reference(params, x, h, mask):
    """torch.nn.GRU's equations with the mask on the h that enters W_hh only (Gal & Ghahramani; Keras)."""
    outs = []
    for x_t in x.unbind(1):
        a = x_t @ params["weight_ih"].T + params["bias_ih"]
        b = (h * mask) @ params["weight_hh"].T + params["bias_hh"]
        r = torch.sigmoid(a[:, :8] + b[:, :8])
        z = torch.sigmoid(a[:, 8:16] + b[:, 8:16])
        n = torch.tanh(a[:, 16:] + r * b[:, 16:])
        h = (1 - z) * n + z * h  # the carried h is not masked
        outs.append(h)
    return torch.stack(outs, 1), h


def lstm_reference(params, x, h, c, mask):
    """torch.nn.LSTM's equations with the mask on the h that enters W_hh only; c and the carried h unmasked."""
    outs = []
    for x_t in x.unbind(1):
        gates = x_t @ params["weight_ih"].T + params["bias_ih"] + (h * mask) @ params["weight_hh"].T + params["bias_hh"]
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 1), h


def test_lstm_masks_only_the_h_of_its_recurrent_matmul():
    p = 0.5
    layer, _ = _pair("lstm", "recurrent_dropout", p)
    x, _ = _inputs()
    h0, c0 = torch.randn(1, 4, 8, dtype=torch.float64), torch.randn(1, 4, 8, dtype=torch.float64)
    torch.manual_seed(5)
    out, _ = layer(x, state=(h0, c0))
    torch.manual_seed(5)
    mask = torch.empty(4, 8, dtype=torch.float64).bernoulli_(1 - p) / (1 - p)
    params = {k: v.detach() for k, v in layer.weights(0, 0).items()}
    torch.testing.assert_close(out, lstm_reference(params, x, h0[0], c0[0], mask)[0], atol=1e-12, rtol=0)


def test_built_in_cells_apply_the_mask_only_where_h_enters_the_matmul():
    p = 0.5
    layer, _ = _pair("gru", "recurrent_dropout", p)
    x, _ = _inputs()
    h0 = torch.randn(1, 4, 8, dtype=torch.float64)
    torch.manual_seed(5)
    out, final = layer(x, state=h0)
    assert "generic kernel runs" in layer.backend_reason and layer.backend == "generic"
    torch.manual_seed(5)  # the runner's only draw: one (B, H) mask for the layer's one direction
    mask = torch.empty(4, 8, dtype=torch.float64).bernoulli_(1 - p) / (1 - p)
    params = {k: v.detach() for k, v in layer.weights(0, 0).items()}
    want_out, want_h = gru_reference(params, x, h0[0], mask)
    torch.testing.assert_close(out, want_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(final[0], want_h, atol=1e-12, rtol=0)


# --- zoneout ---------------------------------------------------------------------------------------------------


def test_zoneout_copies_each_unit_with_probability_p_and_a_fresh_mask_per_step():
    p, batch, steps = 0.3, 512, 6
    layer, _ = _pair("gru", "zoneout", p)
    torch.manual_seed(0)
    x = torch.randn(batch, steps, 3, dtype=torch.float64)
    h0 = torch.randn(1, batch, 8, dtype=torch.float64)
    torch.manual_seed(1)
    out, final = layer(x, state=h0)
    previous = torch.cat([h0[0][:, None], out[:, :-1]], 1)  # h at t−1 (the zoned-out output, as documented)
    copied = out == previous  # a fresh GRU update equals the old value exactly with probability ~0
    n = copied.numel()
    assert abs(float(copied.double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)
    both = (copied[:, 1:] & copied[:, :-1]).double().mean()  # independent masks per step: p², not p
    m = copied[:, 1:].numel()
    assert abs(float(both) - p * p) < 5 * math.sqrt(p * p * (1 - p * p) / m)
    assert torch.equal(final[0], out[:, -1])


def test_zoneout_masks_each_state_component_independently():
    p, batch = 0.4, 2048
    layer, _ = _pair("lstm", "zoneout", p)
    torch.manual_seed(0)
    x = torch.randn(batch, 1, 3, dtype=torch.float64)
    h0, c0 = torch.randn(1, batch, 8, dtype=torch.float64), torch.randn(1, batch, 8, dtype=torch.float64)
    out, (h, c) = layer(x, state=(h0, c0))
    kept_h, kept_c = h == h0, c == c0
    n = kept_h.numel()
    for kept in (kept_h, kept_c):
        assert abs(float(kept.double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert abs(float((kept_h & kept_c).double().mean()) - p * p) < 5 * math.sqrt(p * p * (1 - p * p) / n)
    assert torch.equal(out[:, 0], h[0])  # the output is the zoned-out h


def test_zoneout_near_one_keeps_the_initial_state_exactly():
    layer, _ = _pair("gru", "zoneout", 0.999)
    x = torch.randn(64, 3, 3, dtype=torch.float64)
    h0 = torch.randn(1, 64, 8, dtype=torch.float64)
    torch.manual_seed(2)
    _, final = layer(x, state=h0)
    assert float((final == h0).double().mean()) > 0.99


# --- lengths, directions, options, backends ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gru", "lstm", "ln_lstm"])
def test_lengths_in_training_with_every_regulariser(kind):
    torch.manual_seed(0)
    layer = seqkit.create_rnn(
        kind, 3, 8, bidirectional=True, num_layers=2, zoneout=0.3, recurrent_dropout=0.3, weight_drop=0.3
    ).double()
    x, lengths = _inputs()
    lengths[2] = 0
    x[1, 4:] = 1e6  # padding must reach nothing
    x.requires_grad_(True)
    h0 = torch.randn(4, 4, 8, dtype=torch.float64)
    state = h0 if kind == "gru" else (h0, torch.randn(4, 4, 8, dtype=torch.float64))
    out, final = layer(x, lengths, state)
    h = final if kind == "gru" else final[0]
    for b, n in enumerate(lengths.tolist()):
        assert torch.all(out[b, n:] == 0)
        if n:  # the final state is the state at the last real step: the forward output there, the reverse at 0
            assert torch.equal(h[2, b], out[b, n - 1, :8]) and torch.equal(h[3, b], out[b, 0, 8:])
        else:  # an empty sequence keeps its initial state, masks or not
            for got, given in zip((final,) if kind == "gru" else final, (state,) if kind == "gru" else state):
                assert torch.equal(got[:, b], given[:, b])
    (out.sum() + h.sum()).backward()
    assert torch.all(x.grad[1, 4:] == 0) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("option", REGULARIZERS)
def test_bad_values_name_the_option(option):
    for value in (1.0, -0.1, "a", True):
        with pytest.raises(seqkit.InvalidArgumentError, match=rf"{option} must be a number in \[0, 1\), got"):
            seqkit.create_rnn("gru", 3, 4, **{option: value})


@pytest.mark.parametrize("option", REGULARIZERS)
def test_a_recipe_with_a_bad_value_names_the_key(capsys, option):
    code, _, err = cli(capsys, "validate", "quickstart", f"model.cell.{option}=1.5")
    assert code == 2 and f"model.cell.{option}" in err and "in [0, 1)" in err


def test_an_explicit_fused_backend_refuses_per_step_regularisers():
    for option in ("zoneout", "recurrent_dropout"):
        with pytest.raises(seqkit.KernelUnavailableError, match=rf"backend 'native' cannot apply {option} in training"):
            seqkit.create_rnn("gru", 3, 4, backend="native", **{option: 0.1})
    layer = seqkit.create_rnn("gru", 3, 4, backend="native", weight_drop=0.5)  # weight_drop runs on any kernel
    layer(torch.randn(2, 3, 3))
    assert layer.backend == "native"
    reference = seqkit.create_rnn("gru", 3, 4, backend="reference", zoneout=0.1)
    reference(torch.randn(2, 3, 3))
    assert reference.backend == "reference"


def test_backend_reason_says_why_training_runs_the_step_loop():
    layer = seqkit.create_rnn("lstm", 3, 4, zoneout=0.1, recurrent_dropout=0.2)
    layer(torch.randn(2, 3, 3))
    assert layer.backend == "generic"
    assert layer.backend_reason.startswith("zoneout and recurrent_dropout need per-step masks in training")
    assert "'native'" in layer.backend_reason
    layer.eval()(torch.randn(2, 3, 3))
    assert layer.backend == "native" and layer.backend_reason.startswith("auto chose 'native'")


def test_step_in_training_and_eval():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("lstm", 3, 4, num_layers=2, zoneout=0.5, recurrent_dropout=0.5, weight_drop=0.5)
    x = torch.randn(2, 5, 3)
    state, outputs = None, []
    for t in range(5):
        y, state = layer.step(x[:, t], state)
        outputs.append(y)
    assert not torch.allclose(torch.stack(outputs, 1), layer.eval()(x)[0])  # masks acted in training
    state, outputs = None, []
    for t in range(5):
        y, state = layer.step(x[:, t], state)
        outputs.append(y)
    torch.testing.assert_close(torch.stack(outputs, 1), layer(x)[0])


def test_regularisers_survive_copies_and_pickles():
    layer = seqkit.create_rnn("gru", 3, 4, zoneout=0.1, weight_drop=0.2)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone.regularizers == layer.regularizers
    assert "zoneout=0.1, weight_drop=0.2" in repr(layer)


@pytest.mark.parametrize("option", REGULARIZERS)
def test_conformance_kit_with_each_regulariser(option):
    assert check_cell("gru", options={option: 0.3})[-2:] == ["training", "generic kernel"]


def test_a_third_party_cell_that_does_not_opt_in_still_trains():
    assert "gradients" in check_cell("probe", plugins=_probe_manager(), options={"recurrent_dropout": 0.3})


# --- recipes ---------------------------------------------------------------------------------------------------

REGULARISED = ["model.cell.zoneout=0.1", "model.cell.recurrent_dropout=0.2", "model.cell.weight_drop=0.3"]


def test_resume_with_regularisers_continues_exactly(capsys, tmp_path):
    """A regularised recipe trains through the CLI; two epochs in one go equal one plus a resumed one."""
    common = [*TINY, *REGULARISED, "optim.schedule=constant", "callbacks.early_stopping=null"]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'a'}")[0] == 0
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=1", f"run_dir={tmp_path / 'b'}")[0] == 0
    first = torch.load(tmp_path / "b" / "last.ckpt", weights_only=True)["state_dict"]
    code, _, err = cli(
        capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'b'}", "resume=last"
    )
    assert code == 0, err

    def weights(run):
        return torch.load(tmp_path / run / "last.ckpt", weights_only=True)["state_dict"]

    whole, resumed = weights("a"), weights("b")
    assert any(not torch.equal(first[k], resumed[k]) for k in first)  # the resumed epoch really trained
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
