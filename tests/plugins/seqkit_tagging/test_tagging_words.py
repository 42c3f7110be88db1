"""Word features: casing classes, character encoders (any cell, or a CNN), rare-word replacement in training."""

from __future__ import annotations

import pytest
import torch
from seqkit_tagging.words import CASINGS, CharEncoder, WordFeatures, casing

from seqkit import UNK_ID
from tests.recipe_helpers import cli


def test_casing_classes() -> None:
    named = {w: CASINGS[casing(w)] for w in ["madrid", "Madrid", "EFE", "McCain", "2000", "G8", "(", "ÁVILA"]}
    assert named == {
        "madrid": "lower",
        "Madrid": "title",
        "EFE": "upper",
        "McCain": "mixed",
        "2000": "numeric",
        "G8": "has_digit",
        "(": "other",
        "ÁVILA": "upper",
    }


@pytest.mark.parametrize("options", [{"kind": "gru"}, {"kind": "lstm", "num_layers": 2}, {"kind": "cnn", "width": 3}])
def test_a_word_vector_depends_only_on_its_own_characters(options) -> None:
    torch.manual_seed(0)
    encoder = CharEncoder(10, embed_dim=4, hidden_size=5, **options).eval()
    chars = torch.tensor([[3, 4, 5, 0], [3, 4, 5, 6]])
    lengths = torch.tensor([3, 4])
    out = encoder(chars, lengths)
    assert out.shape == (2, encoder.out_size)
    alone = encoder(chars[:1, :3], lengths[:1])  # the same word without padding
    torch.testing.assert_close(out[:1], alone)
    assert not torch.allclose(out[0], out[1])


def test_rare_words_become_unknown_only_in_training() -> None:
    torch.manual_seed(0)
    rare = torch.tensor([False, False, True, False])  # id 2 is rare
    features = WordFeatures(4, 6, rare, embed_dim=3, casing_dim=2, chars=None, unk_replace=1.0)
    words = torch.tensor([[2, 3, 0]])
    casings = torch.tensor([[1, 1, 0]])
    chars = torch.zeros(1, 3, 1, dtype=torch.long)
    unk, known = features.embed.weight[UNK_ID].detach(), features.embed.weight[3].detach()
    out = features(words, chars, casings)
    torch.testing.assert_close(out[0, 0, :3], unk)  # always replaced at unk_replace=1
    torch.testing.assert_close(out[0, 1, :3], known)
    assert out[0, 2, :3].eq(0).all()  # padding stays padding
    features.eval()
    torch.testing.assert_close(features(words, chars, casings)[0, 0, :3], features.embed.weight[2].detach())


@pytest.mark.parametrize(
    "override,key",
    [
        ("model.chars.embed_dim=0", "embed_dim"),
        ("model.chars={kind: cnn, width: -3}", "width"),
        ("model.chars.hidden_size=100000", "hidden_size"),
    ],
)
def test_the_char_encoders_sizes_are_checked_with_the_recipe(capsys, override, key):
    """A mapping the recipe's type check cannot see into: 0 divided by zero, -3 was a negative dimension deep in
    torch, 100,000 an allocation of 120 GB (internal errors)."""
    code, _, err = cli(capsys, "validate", "tagging/gru_toy", override)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"model.chars.{key}: expected a whole number in [1, 65,536]" in err, err
