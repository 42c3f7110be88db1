"""The generic kernel's loop as one autograd node: the step loop's results where it runs, else the plain loop."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.cell import torch_style_shapes
from seqkit.rnn import steploop
from tests.helpers import DataDependent, cell_plugin

CELLS = [
    ("gru", {}),
    ("gru", {"reset_after": False}),
    ("lstm", {}),
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("ln_gru", {}),
    ("ln_lstm", {}),
]


BOTH = ("generic", "reference")


def _node_types(tensor):
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return {type(fn).__name__ for fn in seen}


def _looped(tensor) -> bool:
    return "LoopBackward" in _node_types(tensor)  # seqkit.rnn.loopnode.Loop


def _compare(kind, options=None, plugins=None, *, steps=9, lengths=(9, 4, 0, 6), tbptt=None, **shape):
    """generic against reference, float64: outputs, final states, the input's and every parameter's gradient."""
    made = [
        seqkit.create_rnn(kind, 3, 5, backend=b, plugins=plugins, tbptt_steps=tbptt, **shape, **(options or {}))
        for b in ("generic", "reference")
    ]
    fast, slow = (layer.double() for layer in made)
    slow.load_state_dict(fast.state_dict())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(lengths), steps, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    size = lengths if lengths is None else torch.tensor(lengths)
    initial = fast.init_state(len(lengths))
    initial = tuple(s + 0.1 for s in initial) if isinstance(initial, tuple) else initial + 0.1
    results = []
    for layer in (fast, slow):
        out, final = layer(x, size, initial)
        finals = final if isinstance(final, tuple) else (final,)
        loss = (out * torch.linspace(-1, 1, out.shape[-1], dtype=out.dtype)).sum() + sum((f**2).sum() for f in finals)
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
        results.append((out, *finals, *grads))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    return results[0][0]


@pytest.mark.parametrize("kind,options", CELLS, ids=[f"{k}-{o}" for k, o in CELLS])
def test_every_built_in_cell_matches_the_step_loop_as_one_node(kind, options):
    out = _compare(kind, options, num_layers=2, bidirectional=True)
    assert _looped(out)


@pytest.mark.parametrize("kind,options", CELLS, ids=[f"{k}-{o}" for k, o in CELLS])
def test_parameter_gradients_summed_over_several_chunks_of_steps(kind, options):
    # 40 steps of 4 rows: three chunks of 16 steps each flush their weight gradients into the running sums (a
    # chunk graph that returns one tensor for several parameters, as LN's biases do, must not be added to twice)
    out = _compare(kind, options, steps=40, lengths=(40, 40, 40, 40))
    assert _looped(out)
    _compare(kind, options, steps=40, lengths=(40, 33, 0, 17), bidirectional=True)


class StepOnlyPeephole(seqkit.Cell):
    """A third-party cell that defines only its step: three state tensors, one of them a detached running maximum,
    weights sliced inside the step, the input matmul inside the step."""

    state_names = ("h", "c", "peak")

    def parameter_shapes(self):
        return {**torch_style_shapes(self, 4), "peep": (self.hidden_size,)}

    def step(self, params, x_t, state):
        h, c, peak = state
        H = self.hidden_size
        w = params["weight_hh"]
        gates = F.linear(x_t, params["weight_ih"], params["bias_ih"])
        i = torch.sigmoid(gates[:, :H] + F.linear(h, w[:H]) + params["peep"] * c)
        f = torch.sigmoid(gates[:, H : 2 * H] + F.linear(h, w[H : 2 * H]) + params["bias_hh"][H : 2 * H])
        g = torch.tanh(gates[:, 2 * H : 3 * H] + F.linear(h, w[2 * H : 3 * H]))
        c = f * c + i * g
        h = torch.sigmoid(gates[:, 3 * H :] + F.linear(h, w[3 * H :])) * torch.tanh(c)
        return h, (h, c, torch.maximum(peak, h.detach()))


class Noisy(seqkit.Cell):
    """Draws random numbers in its step: a derived graph would not draw them as the step loop does."""

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        h = torch.tanh(
            F.linear(x_t, params["weight_ih"], params["bias_ih"])
            + F.linear(state[0], params["weight_hh"], params["bias_hh"])
        )
        h = h + 0.0 * torch.rand_like(h)
        return h, (h,)


class Positioned(seqkit.Cell):
    """Takes its layer and direction, as a cell that records them would: the step runs as written."""

    takes_position = True

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state, *, layer, direction):
        gate = F.linear(x_t, params["weight_ih"], params["bias_ih"]) * (1.0 + 0.5 * direction)
        h = torch.tanh(gate + F.linear(state[0], params["weight_hh"], params["bias_hh"]))
        return h, (h,)


class WritesThroughAView(seqkit.Cell):
    """Changes part of an intermediate in place, then reads the whole: a trace reads the value before the change."""

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        a = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(
            state[0], params["weight_hh"], params["bias_hh"]
        )
        a[:, :2] += 1.0
        a.narrow(1, 2, 1).mul_(2.0)
        h = torch.tanh(a)
        return h, (h,)


class UpdatesInPlace(WritesThroughAView):
    """Updates an intermediate in place and reads it under the same name: the trace reads the change."""

    def step(self, params, x_t, state):
        a = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(
            state[0], params["weight_hh"], params["bias_hh"]
        )
        a += 1.0
        a.mul_(0.5)
        h = torch.tanh(a)
        return h, (h,)


def test_a_step_that_writes_through_a_view_runs_as_written():
    out = _compare("custom", plugins=cell_plugin("custom", WritesThroughAView), steps=12, lengths=(12, 5, 12))
    assert not _looped(out)  # the plain loop: derived graphs would drop the write


def test_a_step_that_updates_a_value_in_place_still_runs_as_one_node():
    out = _compare("custom", plugins=cell_plugin("custom", UpdatesInPlace), steps=12, lengths=(12, 5, 12))
    assert _looped(out)


class NormedWithoutGradient(seqkit.Cell):
    """Rescales its recurrent weight by a norm computed without a gradient: a symbolic trace does not record
    ``no_grad``, so a hoisting split would differentiate through the norm."""

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        w = params["weight_hh"]
        with torch.no_grad():
            norm = w.norm()
        gate = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(state[0], w / norm, params["bias_hh"])
        h = torch.tanh(gate)
        return h, (h,)


@pytest.mark.parametrize("mode", ["node", "plain"])
def test_a_step_that_turns_gradients_off_inside_keeps_them_off(mode, monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", mode)
    _compare("custom", plugins=cell_plugin("custom", NormedWithoutGradient), steps=12, lengths=(12, 5, 12))


class BatchShapedScale(seqkit.Cell):
    """Builds a (B, 1) tensor from a parameter in its step: it depends on the parameters alone, but its shape
    follows the batch, so the chunk's graph (B·steps rows) cannot take it as computed once."""

    def parameter_shapes(self):
        return {**torch_style_shapes(self, 1), "p": (1,)}

    def step(self, params, x_t, state):
        scale = torch.ones(x_t.shape[0], 1, dtype=x_t.dtype) * params["p"]
        gate = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(state[0], params["weight_hh"])
        h = torch.tanh(gate * scale + params["bias_hh"])
        return h, (h,)


class MixesTheBatchSlightly(seqkit.Cell):
    """Adds a thousandth of the batch mean: the weight gradients of stacked steps would mix steps' rows too."""

    def parameter_shapes(self):
        return {**torch_style_shapes(self, 1), "p": (self.hidden_size,)}

    def step(self, params, x_t, state):
        gate = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(state[0], params["weight_hh"])
        h = torch.tanh(gate + params["bias_hh"] + params["p"] + 1e-3 * params["p"] * state[0].mean(0))
        return h, (h,)


@pytest.mark.parametrize("cell_type", [BatchShapedScale, MixesTheBatchSlightly])
def test_steps_whose_weight_gradients_cannot_be_stacked_get_them_per_step(cell_type):
    out = _compare("custom", plugins=cell_plugin("custom", cell_type), steps=40, lengths=(40, 40, 40, 40))
    assert _looped(out)


@dataclasses.dataclass(eq=True)
class EqualByValue(seqkit.Cell):
    """A dataclass: it defines ``__eq__``, so its objects cannot be hashed."""

    input_size: int
    hidden_size: int

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        gate = F.linear(x_t, params["weight_ih"], params["bias_ih"]) + F.linear(state[0], params["weight_hh"])
        h = torch.tanh(gate + params["bias_hh"])
        return h, (h,)


class Scaled(seqkit.Cell):
    """A step-only cell whose step reads an attribute that may change between calls."""

    scale = 1.0

    def parameter_shapes(self):
        return torch_style_shapes(self, 1)

    def step(self, params, x_t, state):
        gate = F.linear(x_t * self.scale, params["weight_ih"], params["bias_ih"]) + F.linear(
            state[0], params["weight_hh"]
        )
        h = torch.tanh(gate + params["bias_hh"])
        return h, (h,)


def test_a_cell_that_cannot_be_hashed_runs_as_one_node():
    out = _compare("custom", plugins=cell_plugin("custom", EqualByValue), steps=12, lengths=(12, 5, 12))
    assert _looped(out)


def test_a_cell_attribute_changed_between_calls_is_seen():
    made = [seqkit.create_rnn("scaled", 3, 5, backend=b, plugins=cell_plugin("scaled", Scaled)) for b in BOTH]
    made[1].load_state_dict(made[0].state_dict())
    x = torch.randn(3, 12, 3, requires_grad=True)
    for scale in (1.0, 3.0):
        for layer in made:
            layer.cells[0].scale = scale
        fast, slow = (layer(x)[0] for layer in made)
        torch.testing.assert_close(fast, slow)
        assert _looped(fast)


def test_a_class_attribute_changed_between_calls_is_seen():
    """Changed on the class (every instance sees it): the cached split and graphs were traced with the old value."""

    class Rescaled(Scaled):
        pass

    made = [seqkit.create_rnn("rescaled", 3, 5, backend=b, plugins=cell_plugin("rescaled", Rescaled)) for b in BOTH]
    made[1].load_state_dict(made[0].state_dict())
    x = torch.randn(3, 12, 3, requires_grad=True)
    for scale in (1.0, 3.0):
        Rescaled.scale = scale
        fast, slow = (layer(x)[0] for layer in made)
        torch.testing.assert_close(fast, slow)
        assert _looped(fast)


class Flattens(seqkit.Cell):
    """Its ``project`` keeps the input's layout, and its step flattens the batch: a ``reshape`` traced on a dense
    step input is a view, which a strided one cannot take."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size), "a": (self.input_size,)}

    def project(self, params, x):
        return x * params["a"]

    def step(self, params, u, state):
        u = u.reshape(-1).reshape(u.shape[0], -1)
        h = torch.tanh(u[:, :1] + F.linear(state[0], params["weight_hh"]))
        return h, (h,)


def test_step_inputs_laid_out_otherwise_get_graphs_of_their_own():
    layer = seqkit.create_rnn("flat", 3, 5, backend="generic", plugins=cell_plugin("flat", Flattens))
    time_major = torch.randn(10, 4, 3)
    for x in (time_major.transpose(0, 1), time_major.transpose(0, 1).contiguous()):
        out = layer(x.requires_grad_())[0]
        assert _looped(out)
        out.sum().backward()


def test_a_step_only_cell_with_several_states_and_a_non_differentiable_one():
    out = _compare("custom", plugins=cell_plugin("custom", StepOnlyPeephole), num_layers=2, bidirectional=True)
    assert _looped(out)


def test_full_lengths_and_short_sequences():
    # below MIN_STEPS live steps the plain loop is the quicker, and runs
    for steps, looped in ((12, True), (steploop.MIN_STEPS - 1, False), (1, False)):
        out = _compare("lstm", steps=steps, lengths=(steps,) * 3)
        assert _looped(out) is looped


def test_truncated_backpropagation_matches_the_step_loop():
    out = _compare("gru", {"reset_after": False}, steps=20, lengths=(20, 9, 0, 17), tbptt=8, bidirectional=True)
    assert _looped(out)


@pytest.mark.parametrize("cell_type", [DataDependent, Noisy, Positioned])
def test_steps_that_cannot_be_derived_run_the_plain_loop(cell_type):
    out = _compare("custom", plugins=cell_plugin("custom", cell_type), lengths=(9, 4, 6))
    assert not _looped(out)


def test_the_plain_loop_on_request_and_without_gradients(monkeypatch):
    layer = seqkit.create_rnn("lstm", 3, 5, backend="generic")
    x = torch.randn(2, 10, 3)
    assert _looped(layer(x)[0])
    with torch.no_grad():
        assert layer(x)[0].grad_fn is None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # dtypes chosen per call: the step runs as written
        assert not _looped(layer(x)[0])
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "plain")
    assert not _looped(layer(x)[0])


def test_parameter_gradients_run_once_per_chunk_of_steps(monkeypatch):
    monkeypatch.setattr(steploop, "_shared", {})  # only this layer's graphs
    layer = seqkit.create_rnn("ln_lstm", 3, 5, backend="generic")
    layer(torch.randn(2, 11, 3))[0].sum().backward()
    (entry,) = steploop.graphs_of(layer.cells[0]).values()
    graphs, batched = entry
    assert graphs is not None and batched is not None
    assert batched.steps == 16  # two rows a step: one weight GEMM per 16 steps (the last chunk padded)
