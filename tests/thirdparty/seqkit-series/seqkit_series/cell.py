"""A decaying RNN for series with missing values: a two-width state and the observation mask as an extra input."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

import seqkit


class DecayCell(seqkit.Cell):
    """``h`` (H wide) and ``age`` (1 wide: steps since the last observation).

    In the first layer a missing input is replaced by ``fill`` (a value the task learns from its training data);
    in every layer the state decays with the age before the recurrent matmul:
    ``h' = tanh(W_ih x + W_hh (exp(-softplus(decay) * age) * h) + bias)``.
    """

    state_names = ("h", "age")
    takes_position = True

    def __init__(self, input_size: int, hidden_size: int, *, fill: float = 0.0) -> None:
        if isinstance(fill, bool) or not isinstance(fill, int | float):
            raise ValueError(f"fill must be a number, got {fill!r}")
        super().__init__(input_size, hidden_size)
        self.fill = float(fill)

    @property
    def options(self) -> dict[str, float]:
        return {"fill": self.fill}

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, 1)

    def extra_input_sizes(self) -> dict[str, int]:
        return {"mask": 1}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        h = self.hidden_size
        return {"weight_ih": (h, self.input_size), "weight_hh": (h, h), "bias": (h,), "decay": (h,)}

    def parameter_roles(self) -> dict[str, str]:
        return {"weight_ih": "input", "weight_hh": "recurrent", "bias": "bias", "decay": "vector"}

    def project(self, params: seqkit.Params, x: Tensor) -> Tensor:
        return x @ params["weight_ih"].T

    def step(
        self,
        params: seqkit.Params,
        u_t: Tensor,
        state: seqkit.State,
        *,
        extras: dict[str, Tensor],
        layer: int,
        direction: int,
    ) -> tuple[Tensor, seqkit.State]:
        h, age = state
        observed = extras["mask"]  # (B, 1): 1 where this step's input was observed
        if layer == 0:  # W_ih is linear, so imputing after the projection is imputing the input
            u_t = observed * u_t + (1 - observed) * self.fill * params["weight_ih"].sum(1)
        age = (age + 1) * (1 - observed)
        kept = torch.exp(-F.softplus(params["decay"]) * age) * h
        h = torch.tanh(u_t + kept @ params["weight_hh"].T + params["bias"])
        return h, (h, age)
