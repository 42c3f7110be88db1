"""Richer cells through the public API: state components of several widths, Cell.init_state, extra per-step inputs
delivered aligned to every layer and direction, and the cell's layer and direction."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

import seqkit


class Summing(seqkit.Cell):
    """Elman step plus a 3-wide running sum of the first input features: a state of two widths."""

    state_names = ("h", "total")

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, 3)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"weight_ih": (self.hidden_size, self.input_size), "weight_hh": (self.hidden_size, self.hidden_size)}

    def init_state(self, batch_size, *, device=None, dtype=None):
        # not zeros: forward must start here when no state is passed
        return (
            torch.full((batch_size, self.hidden_size), 0.5, device=device, dtype=dtype),
            torch.ones(batch_size, 3, device=device, dtype=dtype),
        )

    def step(self, params, u_t, state):
        h, total = state
        total = total + u_t[:, :3]
        h = torch.tanh(u_t @ params["weight_ih"].T + h @ params["weight_hh"].T + total.sum(1, keepdim=True))
        return h, (h, total)


class InputWide(Summing):
    """A state component as wide as the input: different in the first layer and the next."""

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.input_size)

    def init_state(self, batch_size, *, device=None, dtype=None):
        return tuple(torch.zeros(batch_size, s, device=device, dtype=dtype) for s in self.state_sizes)


class Probe(seqkit.Cell):
    """Outputs its extra input ``t`` on every unit and records each step's layer, direction and ``t``."""

    takes_position = True
    calls: ClassVar[list] = []

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size)}

    def extra_input_sizes(self):
        return {"t": 1, "flag": 2}

    def step(self, params, u_t, state, *, extras, layer, direction):
        Probe.calls.append((layer, direction, extras["t"][:, 0].tolist(), extras["flag"].shape))
        h = extras["t"].expand(-1, self.hidden_size) + 0 * (state[0] @ params["weight_hh"].T)
        return h, (h,)


class Hold(seqkit.Cell):
    """Elman step where the mask is 1; holds its state where the mask is 0."""

    def parameter_shapes(self):
        return {"weight_ih": (self.hidden_size, self.input_size), "weight_hh": (self.hidden_size, self.hidden_size)}

    def extra_input_sizes(self):
        return {"mask": 1}

    def project(self, params, x):
        return x @ params["weight_ih"].T

    def step(self, params, u_t, state, *, extras):
        m = extras["mask"]
        h = m * torch.tanh(u_t + state[0] @ params["weight_hh"].T) + (1 - m) * state[0]
        return h, (h,)


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("hold", build=Hold))
        register(seqkit.Spec("summing", build=Summing))
        register(seqkit.Spec("inputwide", build=InputWide))
        register(seqkit.Spec("probe", build=Probe))


@pytest.fixture
def plugins():
    manager = seqkit.PluginManager([("mine", Plugin)], entry_points=False)
    seqkit.set_plugin_manager(manager)
    return manager


@pytest.mark.parametrize("backend", ["generic", "reference"])
def test_a_two_width_state_runs_stacked_and_bidirectional(plugins, backend):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("summing", 4, 5, num_layers=2, bidirectional=True, backend=backend).double()
    x, lengths = torch.randn(3, 6, 4, dtype=torch.float64), torch.tensor([6, 3, 1])
    out, (h, total) = layer(x, lengths)
    assert out.shape == (3, 6, 10) and h.shape == (4, 3, 5) and total.shape == (4, 3, 3)
    again, _ = layer(x, lengths, (h, total))  # a returned state goes back in
    assert again.shape == out.shape
    alone, (_, t1) = layer(x[1:2, :3])  # padding changes nothing
    assert torch.allclose(out[1:2, :3], alone) and torch.allclose(total[:, 1:2], t1)


def test_state_widths_that_differ_between_layers_fail_at_build(plugins):
    seqkit.create_rnn("inputwide", 4, 5)  # one layer: fine
    with pytest.raises(seqkit.InvalidArgumentError, match=r"cell 'inputwide' has state widths .* in layer 1"):
        seqkit.create_rnn("inputwide", 4, 5, num_layers=2)


def test_forward_starts_from_the_cells_init_state(plugins):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("summing", 4, 5, num_layers=2, bidirectional=True)
    x = torch.randn(2, 3, 4)
    start = layer.init_state(2)
    assert torch.equal(start[1], torch.ones(4, 2, 3)) and torch.equal(start[0], torch.full((4, 2, 5), 0.5))
    assert torch.allclose(layer(x)[0], layer(x, state=start)[0])
    zeros = tuple(torch.zeros_like(s) for s in start)
    assert not torch.allclose(layer(x)[0], layer(x, state=zeros)[0])


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_extra_inputs_reach_every_layer_and_direction_aligned(plugins, backend):
    Probe.calls.clear()
    layer = seqkit.create_rnn("probe", 2, 3, num_layers=2, bidirectional=True, backend=backend)
    lengths = torch.tensor([5, 2, 4])
    t = torch.arange(5.0).expand(3, 5)[:, :, None].clone()  # each step's own index
    extras = {"t": t, "flag": torch.zeros(3, 5, 2)}
    out, _ = layer(torch.randn(3, 5, 2), lengths, extras=extras)
    seen = {(c[0], c[1]) for c in Probe.calls}
    assert seen == {(0, 0), (0, 1), (1, 0), (1, 1)}  # every layer knows its index, every direction its own
    firsts = {}
    for lay, direction, values, flag_shape in Probe.calls:
        firsts.setdefault((lay, direction), values)
        assert flag_shape == (3, 2)
    for lay in (0, 1):
        assert firsts[(lay, 0)] == [0.0, 0.0, 0.0]
        assert firsts[(lay, 1)] == [4.0, 1.0, 3.0]  # the reverse direction starts at each sequence's last real step
    valid = torch.arange(5)[None, :] < lengths[:, None]
    expected = torch.where(valid, t[:, :, 0], 0.0)[:, :, None].expand(-1, -1, 6)
    assert torch.equal(out, expected)  # both directions' outputs line up with the step they came from


def test_extra_inputs_are_checked(plugins):
    layer = seqkit.create_rnn("probe", 2, 3)
    x = torch.randn(1, 4, 2)
    with pytest.raises(seqkit.InvalidArgumentError, match=r"needs the extra inputs \['t', 'flag'\]"):
        layer(x)
    with pytest.raises(seqkit.InvalidArgumentError, match=r"extra input 'flag' must have shape \(1, 4, 2\)"):
        layer(x, extras={"t": torch.zeros(1, 4, 1), "flag": torch.zeros(1, 4, 1)})
    with pytest.raises(seqkit.InvalidArgumentError, match="not declared"):
        seqkit.create_rnn("summing", 2, 3)(x, extras={"mask": torch.zeros(1, 4, 1)})
    out, _ = layer.step(x[:, 0], extras={"t": torch.full((1, 1), 7.0), "flag": torch.zeros(1, 2)})
    assert torch.equal(out, torch.full((1, 3), 7.0))


@pytest.mark.parametrize(
    "options", [{"tbptt_steps": 2}, {"zoneout": 0.1}, {"recurrent_dropout": 0.2}, {"weight_drop": 0.3}]
)
def test_extra_inputs_work_with_truncated_bptt_and_regularisers(plugins, options):
    torch.manual_seed(0)
    x, lengths = torch.randn(3, 7, 2), torch.tensor([7, 3, 5])
    mask = (torch.rand(3, 7, 1) > 0.3).float()
    plain = seqkit.create_rnn("hold", 2, 4, num_layers=2, bidirectional=True)
    layer = seqkit.create_rnn("hold", 2, 4, num_layers=2, bidirectional=True, **options)
    layer.load_state_dict(plain.state_dict())
    out, _ = layer.train()(x, lengths, extras={"mask": mask})
    out.sum().backward()
    assert layer.weight_hh_l1_reverse.grad is not None
    assert torch.allclose(
        layer.eval()(x, lengths, extras={"mask": mask})[0], plain(x, lengths, extras={"mask": mask})[0]
    )


def test_step_by_step_with_extra_inputs_equals_the_sequence(plugins):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("hold", 2, 4, num_layers=2)
    x, mask = torch.randn(2, 5, 2), (torch.rand(2, 5, 1) > 0.4).float()
    state, outputs = None, []
    for t in range(5):
        y, state = layer.step(x[:, t], state, extras={"mask": mask[:, t]})
        outputs.append(y)
    full, final = layer(x, extras={"mask": mask})
    assert torch.allclose(torch.stack(outputs, 1), full, atol=1e-6) and torch.allclose(state, final, atol=1e-6)
