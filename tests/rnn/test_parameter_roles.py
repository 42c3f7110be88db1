"""Initialisers and L2 penalties by the roles a cell declares for its parameters, vector recurrent weights included."""

from __future__ import annotations

import pytest
import torch

import seqkit


class Diagonal(seqkit.Cell):
    """IndRNN-like: ``h' = tanh(W x + w ⊙ h + b)`` with a vector recurrent weight ``weight_hh`` (H,)."""

    def parameter_shapes(self):
        return {
            "weight_ih": (self.hidden_size, self.input_size),
            "weight_hh": (self.hidden_size,),
            "bias": (self.hidden_size,),
        }

    def step(self, params, u_t, state):
        h = torch.tanh(u_t @ params["weight_ih"].T + params["weight_hh"] * state[0] + params["bias"])
        return h, (h,)


class Named(Diagonal):
    """The same cell with names torch.nn does not use: the roles say what they are."""

    def parameter_shapes(self):
        h = self.hidden_size
        return {"A": (h, self.input_size), "u": (h,), "c": (h,), "gain": (h,)}

    def parameter_roles(self):
        return {"A": "input", "u": "vector", "c": "bias", "gain": "other"}

    def step(self, params, u_t, state):
        h = torch.tanh(u_t @ params["A"].T + params["u"] * state[0] + params["c"]) * params["gain"]
        return h, (h,)


class BadRoles(Diagonal):
    def parameter_roles(self):
        return {"weight_hh": "diagonal"}


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        for name, build in (("diag", Diagonal), ("named", Named), ("badroles", BadRoles)):
            register(seqkit.Spec(name, build=build))


@pytest.fixture(autouse=True)
def plugins():
    seqkit.set_plugin_manager(seqkit.PluginManager([("mine", Plugin)], entry_points=False))


def test_keras_init_gives_a_vector_recurrent_weight_the_identity_diagonal():
    layer = seqkit.create_rnn("diag", 3, 8, init="keras")  # xavier_uniform / orthogonal / zeros
    assert torch.equal(layer.weight_hh_l0, torch.ones(8)) and torch.equal(layer.bias_l0, torch.zeros(8))
    bound = (6 / (3 + 8)) ** 0.5
    assert layer.weight_ih_l0.abs().max() <= bound
    xavier = seqkit.create_rnn("diag", 3, 100, recurrent_init="xavier_uniform")
    assert 0 < xavier.weight_hh_l0.abs().max() <= (3 / 100) ** 0.5


def test_declared_roles_choose_the_initialiser_and_the_penalty():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("named", 3, 4, init="keras", kernel_l2=0.1, recurrent_l2=0.01)
    assert torch.equal(layer.u_l0, torch.ones(4)) and torch.equal(layer.c_l0, torch.zeros(4))
    assert not torch.equal(layer.gain_l0, torch.ones(4))  # 'other': the cell's own init, untouched
    expected = 0.1 * layer.A_l0.pow(2).sum() + 0.01 * layer.u_l0.pow(2).sum()
    assert torch.allclose(layer.penalty(), expected)


def test_an_unknown_role_is_an_error_naming_the_cell():
    with pytest.raises(seqkit.InvalidArgumentError, match=r"cell 'badroles'.*'weight_hh' the role 'diagonal'"):
        seqkit.create_rnn("badroles", 3, 4)
