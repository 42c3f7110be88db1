"""The jordan cell passes seqkit's conformance kit and computes the formula in the README."""

import torch

import seqkit
from seqkit.testing import check_cell


def test_conformance():
    check_cell("jordan")
    check_cell("jordan", options={"bias": False})


def test_one_step_is_the_formula():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("jordan", 3, 4).double()
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    p = dict(layer.named_parameters())
    y = torch.zeros(4, dtype=torch.float64)
    outputs = []
    for t in range(5):
        a = torch.tanh(p["weight_ih_l0"] @ x[0, t] + p["bias_ih_l0"] + p["weight_hh_l0"] @ y + p["bias_hh_l0"])
        y = torch.tanh(p["weight_ho_l0"] @ a + p["bias_ho_l0"])
        outputs.append(y)
    out, state = layer(x)
    torch.testing.assert_close(out[0], torch.stack(outputs))
    torch.testing.assert_close(state[0, 0], y)


def test_the_output_is_what_is_fed_back():
    """Unlike Elman's, the state a Jordan cell carries is its output itself."""
    layer = seqkit.create_rnn("jordan", 3, 4)
    out, state = layer(torch.randn(2, 6, 3))
    torch.testing.assert_close(out[:, -1], state[0])
