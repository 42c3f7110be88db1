"""The encoder–decoder over cells and options: LSTM state through the bridge, tying, separate vocabularies."""

from __future__ import annotations

import pytest
import torch
from seqkit_seq2seq.synthetic import synthetic_pairs
from seqkit_text.tokenizers import WordTokenizer
from seqkit_translation.task import TranslationTask

from seqkit.build import cell_factory
from seqkit.plugins import get_plugin_manager

RECORDS = [{"source": "a b c", "target": "x y"}, {"source": "b c d e", "target": "y z z"}]


def built(cell: dict, task_options: dict | None = None, **model_options):
    task = TranslationTask(**(task_options or {}))
    tokenizer = WordTokenizer().fit(task.texts(RECORDS))
    task.setup(RECORDS, tokenizer)
    torch.manual_seed(0)
    model = task.build_model(cell_factory(cell, get_plugin_manager()), tokenizer, embed_dim=8, **model_options)
    batch = task.collate([task.encode(r, tokenizer) for r in RECORDS])
    return task, tokenizer, model, batch


@pytest.mark.parametrize(
    ("cell", "attention"),
    [
        ({"kind": "lstm", "hidden_size": 6, "num_layers": 2, "bidirectional": True}, "additive"),
        ({"kind": "gru", "hidden_size": 6, "num_layers": 1, "bidirectional": False}, "dot"),
        ({"kind": "rnn", "hidden_size": 6, "num_layers": 2, "bidirectional": True}, "general"),
    ],
)
def test_cells_and_attentions_train_and_decode(cell, attention):
    task, tokenizer, model, batch = built(cell, attention=attention, dropout=0.1)
    log_probs, weights, _ = model(batch)
    assert log_probs.shape[:2] == batch["target_out"].shape and log_probs.shape[-1] == tokenizer.vocab_size
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:2]))
    loss, _ = task.forward_loss(model, batch)
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    model.eval()
    _, outputs = task.forward_loss(model, batch)
    assert len(outputs["hypotheses"]) == 2
    assert model.decoder.num_layers == cell["num_layers"] and not model.decoder.bidirectional


def test_tied_and_shared_embeddings():
    _, _, model, _ = built({"kind": "gru", "hidden_size": 8}, tie_embeddings=True, share_embeddings=True)
    assert model.generator.weight is model.target_embed.weight is model.source_embed.weight
    _, _, model, _ = built({"kind": "gru", "hidden_size": 6}, tie_embeddings=True)  # hidden 6 → embed 8
    assert model.generator.weight is model.target_embed.weight and model.out_proj is not None


def test_separate_vocabularies_are_saved_with_the_task():
    task, tokenizer, model, _ = built({"kind": "gru", "hidden_size": 6}, {"shared_vocab": False})
    state = task.state_dict()
    assert "x" in state["target_tokenizer"]["itos"] and "x" not in tokenizer.stoi
    restored = TranslationTask(shared_vocab=False)
    restored.load_state_dict(state)
    assert restored.target_tokenizer(tokenizer).itos == task.target_tokenizer(tokenizer).itos
    assert model.generator.out_features == len(state["target_tokenizer"]["itos"])
    with pytest.raises(ValueError, match="shared_vocab"):
        built({"kind": "gru", "hidden_size": 6}, {"shared_vocab": False}, share_embeddings=True)


def test_beam_search_batches_equal_one_sentence_at_a_time():
    task, tokenizer, model, _ = built({"kind": "gru", "hidden_size": 8, "bidirectional": True})
    texts = [r["source"] for r in synthetic_pairs(size=6, symbols=4)]
    together = task.predict(model, texts, tokenizer, beam_size=3, n_best=2)
    alone = [task.predict(model, [t], tokenizer, beam_size=3, n_best=2)[0] for t in texts]
    for a, b in zip(together, alone):
        assert [h["output"] for h in a["n_best"]] == [h["output"] for h in b["n_best"]]
        assert a["score"] == pytest.approx(b["score"], abs=1e-3)
