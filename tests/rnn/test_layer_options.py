"""The layer option schema: every option is taken by create_rnn and by a recipe alike, and refused alike."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import seqkit
from seqkit import layer_options
from seqkit.build import cell_factory
from seqkit.config import validate
from seqkit.plugins import get_plugin_manager
from seqkit.recipes import load_recipe
from tests.recipe_helpers import cli

# a value other than the default for every option (valid for an lstm), and one that each must refuse
GOOD = {
    "hidden_size": 6,
    "num_layers": 2,
    "bidirectional": True,
    "dropout": 0.25,
    "backend": "reference",
    "init": "keras",
    "kernel_init": "xavier_normal",
    "recurrent_init": "orthogonal",
    "bias_init": "zeros",
    "forget_bias": 1.0,
    "kernel_l2": 0.01,
    "recurrent_l2": 0.02,
    "zoneout": 0.1,
    "recurrent_dropout": 0.2,
    "weight_drop": 0.3,
    "tbptt_steps": 3,
}
BAD = {
    "hidden_size": 0,
    "num_layers": 0,
    "bidirectional": 2,
    "dropout": 1.0,
    "backend": 3,
    "init": "pytorch",
    "kernel_init": "orthogonl",
    "recurrent_init": 1,
    "bias_init": "ones",
    "forget_bias": math.nan,
    "kernel_l2": -0.5,
    "recurrent_l2": math.inf,
    "zoneout": 1.5,
    "recurrent_dropout": -0.1,
    "weight_drop": 1,
    "tbptt_steps": 0,
}


def override(key: str, value: object) -> str:
    return f"{key}={str(value).lower() if isinstance(value, bool) else value}"


def test_the_examples_cover_every_option_and_create_rnn_takes_each_keyword():
    assert set(GOOD) == set(BAD) == set(layer_options.names())
    parameters = inspect.signature(seqkit.create_rnn).parameters
    for option in layer_options.OPTIONS:
        assert option.name in parameters, option.name
        assert parameters[option.name].default == option.default, option.name


@pytest.mark.filterwarnings("ignore:dropout applies between layers")
@pytest.mark.parametrize("name", layer_options.names())
def test_every_option_builds_the_same_layer_from_create_rnn_and_from_a_recipe(capsys, name):
    option = layer_options.BY_NAME[name]
    value = GOOD[name]
    overrides = ["model.cell.kind=lstm", override(option.recipe_key, value)]
    code, _, err = cli(capsys, "validate", "quickstart", *overrides)
    assert code == 0, err
    recipe = load_recipe("quickstart", overrides)
    manager = get_plugin_manager()
    validate(recipe, manager)
    torch.manual_seed(0)
    sizes = {"hidden_size": recipe.data["model"]["cell"]["hidden_size"]}
    direct = seqkit.create_rnn("lstm", 5, **(sizes | {name: value}))
    torch.manual_seed(0)
    steps = recipe.data["task"].get("tbptt_steps")
    from_recipe = cell_factory(recipe.data["model"]["cell"], manager, recipe, tbptt_steps=steps)(5)
    for attribute in ("num_layers", "bidirectional", "dropout", "requested_backend", "tbptt_steps"):
        assert getattr(direct, attribute) == getattr(from_recipe, attribute), attribute
    assert direct.init_options == from_recipe.init_options
    assert direct.regularizers == from_recipe.regularizers
    assert direct.state_dict().keys() == from_recipe.state_dict().keys()
    for key, tensor in direct.state_dict().items():
        assert torch.equal(tensor, from_recipe.state_dict()[key]), key
    # and the option did something: the layer differs from the default one in what the option sets
    torch.manual_seed(0)
    default = seqkit.create_rnn("lstm", 5, hidden_size=GOOD["hidden_size"] + 1)
    every = ("num_layers", "bidirectional", "dropout", "requested_backend", "tbptt_steps")
    changed = [a for a in every if getattr(default, a) != getattr(direct, a)]
    changed += ["init"] * (default.init_options != direct.init_options)
    changed += ["regularizers"] * (default.regularizers != direct.regularizers)
    changed += ["size"] * (default.hidden_size != direct.hidden_size)
    assert changed, f"{name}={value!r} changed nothing"


@pytest.mark.parametrize("name", layer_options.names())
def test_every_option_is_refused_alike(capsys, name):
    option = layer_options.BY_NAME[name]
    value = BAD[name]
    with pytest.raises(seqkit.InvalidArgumentError, match=f"^{name} must be "):
        seqkit.create_rnn("lstm", 5, **({"hidden_size": 4} | {name: value}))
    code, _, err = cli(capsys, "validate", "quickstart", "model.cell.kind=lstm", override(option.recipe_key, value))
    assert code == 2 and option.recipe_key in err, err
