"""The generic kernel: every cell's step, its input part hoisted (also when traced out of a step-only cell)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.cell import torch_style_shapes
from seqkit.derive import split_step
from seqkit.scan import hoists
from seqkit.testing import check_kernel
from tests.helpers import DataDependent, cell_plugin

MANAGER = seqkit.get_plugin_manager()
CELLS = [("gru", {}), ("gru", {"reset_after": False}), ("lstm", {}), ("rnn", {}), ("rnn", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("kind,options", CELLS, ids=[f"{k}-{o}" for k, o in CELLS])
def test_every_built_in_cell_matches_the_step_loop(kind, options):
    # float64, 2 layers, bidirectional, mixed lengths, a given state: outputs, states and every gradient
    assert "parity" in check_kernel(kind, "generic", plugins=MANAGER, options=options)


class StepOnlyLSTM(seqkit.Cell):
    """An LSTM written the way a new cell usually is: the input matmul inside the step."""

    state_names = ("h", "c")

    def parameter_shapes(self):
        return torch_style_shapes(self, 4)

    def step(self, params, x_t, state):
        h, c = state
        gates = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(
            h, params["weight_hh"], params["bias_hh"]
        )
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class StepOnlyResetBeforeGRU(seqkit.Cell):
    """Slices its weights inside the step and reads the input projection in two places."""

    def parameter_shapes(self):
        return torch_style_shapes(self, 3)

    def step(self, params, x_t, state):
        (h,) = state
        H = self.hidden_size
        u = F.linear(x_t, params["weight_ih"], params["bias_ih"])
        w, b = params["weight_hh"], params["bias_hh"]
        r = torch.sigmoid(u[:, :H] + F.linear(h, w[:H], b[:H]))
        z = torch.sigmoid(u[:, H : 2 * H] + F.linear(h, w[H : 2 * H], b[H : 2 * H]))
        n = torch.tanh(u[:, 2 * H :] + F.linear(r * h, w[2 * H :], b[2 * H :]))
        h = n + z * (h - n)
        return h, (h,)


class MixesTheBatch(seqkit.Cell):
    """Its input part reads the whole batch (centring), so hoisting it over all steps would change it."""

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        centred = x_t - x_t.mean(dim=0, keepdim=True)
        recurrent = F.linear(state[0], params["weight_hh"], params["bias_hh"])
        h = torch.tanh(F.linear(centred, params["weight_ih"], params["bias_ih"]) + recurrent)
        return h, (h,)


class ReadsTheInputAsIs(seqkit.Cell):
    """Concatenates input and state before one matmul: no input-only computation, nothing to hoist."""

    def parameter_shapes(self):
        return {"weight": (self.hidden_size, self.input_size + self.hidden_size), "bias": (self.hidden_size,)}

    def step(self, params, x_t, state):
        h = torch.tanh(F.linear(torch.cat([x_t, state[0]], dim=-1), params["weight"], params["bias"]))
        return h, (h,)


@pytest.mark.parametrize(
    "cell_type,hoisted",
    [
        (StepOnlyLSTM, True),
        (StepOnlyResetBeforeGRU, True),
        (MixesTheBatch, False),
        (DataDependent, False),
        (ReadsTheInputAsIs, False),
    ],
)
def test_step_only_cells_match_the_step_loop_hoisted_or_not(cell_type, hoisted):
    cell = cell_type(4, 4)
    assert hoists(cell) is hoisted
    if cell_type is MixesTheBatch:  # padding changes its batch mean, so the kit's lengths checks cannot pass
        _same_as_the_step_loop(cell_type)
    else:
        assert "parity" in check_kernel("custom", "generic", plugins=cell_plugin("custom", cell_type))


def _same_as_the_step_loop(cell_type):
    manager = cell_plugin("custom", cell_type)
    fast, slow = (
        seqkit.create_rnn("custom", 3, 5, num_layers=2, bidirectional=True, backend=b, plugins=manager).double()
        for b in ("generic", "reference")
    )
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    results = []
    for layer in (fast, slow):
        out, final = layer(x)
        results.append((out, final, *torch.autograd.grad((out**2).sum() + final.sum(), list(layer.parameters()))))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_input_matmul_leaves_the_loop():
    split = split_step(StepOnlyLSTM(5, 3))
    assert split is not None and split.frontier == 1
    split = (split.hoisted, split.recurrent)
    read = {g: {n.name for n in g.graph.nodes if n.op == "placeholder" and n.users} for g in split}
    assert read[split[0]] == {"u", "p_weight_ih", "p_bias_ih"}
    assert read[split[1]] == {"f0", "s0", "s1", "p_weight_hh", "p_bias_hh"}


class StepOnlyLayerNormRNN(seqkit.Cell):
    """A layer norm on the input matmul's result, as a layer-normalised cell written as a step alone does."""

    def parameter_shapes(self):
        return {**torch_style_shapes(self, 1), "ln_weight": (self.hidden_size,), "ln_bias": (self.hidden_size,)}

    def step(self, params, x_t, state):
        u = F.linear(x_t, params["weight_ih"], params["bias_ih"])
        u = F.layer_norm(u, (self.hidden_size,), params["ln_weight"], params["ln_bias"])
        a = u + F.linear(state[0], params["weight_hh"], params["bias_hh"])
        h = torch.tanh(a) * torch.sigmoid(a)  # enough elementwise work for the compiled step to fuse
        return h, (h,)


def test_what_follows_the_input_matmul_stays_in_the_step():
    # the layer norm runs per step, on rows in cache, not as passes over the whole sequence's projection
    split = split_step(StepOnlyLayerNormRNN(5, 3))
    assert split is not None and split.frontier == 1
    hoisted, stepped = ({n.target for n in g.graph.nodes} for g in (split.hoisted, split.recurrent))
    assert seqkit.linear in hoisted and F.layer_norm not in hoisted  # F.linear's GEMM, through oneDNN
    assert F.layer_norm in stepped
    assert "parity" in check_kernel("custom", "generic", plugins=cell_plugin("custom", StepOnlyLayerNormRNN))


def test_auto_runs_a_cell_without_a_kernel_on_the_generic_kernel():
    layer = seqkit.create_rnn("custom", 4, 6, plugins=cell_plugin("custom", StepOnlyLSTM))
    layer(torch.randn(2, 3, 4))
    assert layer.backend == "generic"
    assert "auto chose 'generic'" in layer.backend_reason
    slow = seqkit.create_rnn("custom", 4, 6, backend="reference", plugins=cell_plugin("custom", StepOnlyLSTM))
    slow.load_state_dict(layer.state_dict())
    x = torch.randn(3, 7, 4)
    torch.testing.assert_close(layer(x)[0], slow(x)[0], rtol=1e-6, atol=1e-6)


def test_auto_prefers_a_dedicated_kernel(without_onednn):
    assert seqkit.create_rnn("gru", 4, 6).backend == "native"
    assert seqkit.create_rnn("gru", 4, 6, reset_after=False).backend == "generic"


def test_generic_is_a_reserved_kernel_name():
    spec = seqkit.KernelSpec(cell="gru", name="generic", run=lambda *a: None, supports=lambda *a: None)
    with pytest.raises(seqkit.PluginError, match="generic"):
        seqkit.PluginManager([("p", _kernel_plugin(spec))], entry_points=False).kernels  # noqa: B018


def _kernel_plugin(spec):
    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_kernels(register):
            register(spec)

    return Plugin


def test_the_tape_stays_linear_in_the_sequence_length():
    # indexing u[:, t] makes autograd add a zero-filled (B, T, P) gradient per step: quadratic in T
    cell = seqkit.create_rnn("gru", 8, 8, backend="generic")
    x = torch.randn(2, 64, 8, requires_grad=True)
    out, _ = cell(x)
    names = set()
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in names:
            continue
        names.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    assert not any("Select" in type(fn).__name__ or "Slice" in type(fn).__name__ for fn in names)
