"""Tasks need not be text: padding any dtype and feature shape, a recipe without a tokenizer, predict's raw inputs."""

from __future__ import annotations

import pytest
import torch

import seqkit
from tests.recipe_helpers import cli, quickstart, write_recipe


def test_pad_sequences_pads_float_features_and_keeps_ids_int64():
    values, lengths = seqkit.pad_sequences([torch.ones(3, 2), torch.full((1, 2), 2.0), torch.zeros(0, 2)], pad_id=-1.0)
    assert values.dtype == torch.float32 and values.shape == (3, 3, 2) and lengths.tolist() == [3, 1, 0]
    assert torch.equal(values[1], torch.tensor([[2.0, 2.0], [-1.0, -1.0], [-1.0, -1.0]]))
    ids, _ = seqkit.pad_sequences([[4, 5], [6]])
    assert ids.dtype == torch.int64 and ids.tolist() == [[4, 5], [6, 0]]
    with pytest.raises(seqkit.InvalidArgumentError, match="sequence 1 has items of shape"):
        seqkit.pad_sequences([torch.ones(2, 3), torch.ones(2, 4)])


class Numbers(seqkit.Task):
    """Sums of numbers, classified by sign; reads no text."""

    needs_tokenizer = False


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_tasks(register: seqkit.RegisterTask) -> None:
        register(seqkit.Spec("numbers", build=Numbers))


def test_a_recipe_leaves_out_the_tokenizer_only_for_a_task_that_reads_no_text(tmp_path, capsys):
    recipe = quickstart()
    del recipe["tokenizer"]
    code, _, err = cli(capsys, "validate", write_recipe(tmp_path / "text.yaml", recipe))
    assert code == 2 and "tokenizer: missing section: task 'sentiment' reads text and needs a tokenizer" in err
    from seqkit.config import validate
    from seqkit.recipes import load_recipe

    recipe["task"] = {"kind": "numbers"}
    recipe["model"] = {"cell": {"kind": "gru", "hidden_size": 4}}
    manager = seqkit.PluginManager([("numbers", Plugin)])
    validate(load_recipe(str(write_recipe(tmp_path / "numbers.yaml", recipe)), []), manager)  # no error
    # and such a task never silently gets one: a tokenizer section is refused, naming the key
    recipe["tokenizer"] = {"kind": "word"}
    with pytest.raises(seqkit.SeqkitError, match=r"tokenizer: task 'numbers' reads no text and takes no tokenizer"):
        validate(load_recipe(str(write_recipe(tmp_path / "with_tokenizer.yaml", recipe)), []), manager)
