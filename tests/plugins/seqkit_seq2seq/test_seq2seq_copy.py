"""The pointer-generator: source words outside the vocabulary can be produced, and the loss sees them."""

from __future__ import annotations

import torch
from seqkit_seq2seq.synthetic import synthetic_pairs
from seqkit_summarization.task import SummarizationTask
from seqkit_text.tokenizers import WordTokenizer

from seqkit.build import cell_factory
from seqkit.plugins import get_plugin_manager


def tiny(**options):
    records = [{"source": "the cat sat", "target": "cat sat"}, {"source": "a dog ran", "target": "dog ran"}]
    tokenizer = WordTokenizer().fit([r["source"] for r in records] + [r["target"] for r in records])
    task = SummarizationTask(**options)
    task.setup(records, tokenizer)
    factory = cell_factory({"kind": "gru", "hidden_size": 8, "bidirectional": True}, get_plugin_manager())
    torch.manual_seed(0)
    model = task.build_model(factory, tokenizer, embed_dim=8, dropout=0.0)
    return task, tokenizer, model


def test_copy_emits_an_out_of_vocabulary_source_word():
    task, tokenizer, model = tiny(min_length=1, max_length=2)
    assert "zebra" not in tokenizer.stoi
    with torch.no_grad():  # always copy (p_gen = 0): the output is a source token, here the unknown word
        model.gate.weight.zero_()
        model.gate.bias.fill_(-30.0)
    [result] = task.predict(model, ["zebra"], tokenizer, beam_size=1)
    assert result["output"].split()[0] == "zebra"
    [beam] = task.predict(model, ["zebra"], tokenizer, beam_size=2)
    assert beam["output"].split()[0] == "zebra"


def test_copy_targets_use_extended_ids_and_the_loss_is_finite():
    task, tokenizer, model = tiny(coverage_weight=1.0)
    example = task.encode({"source": "the zebra sat", "target": "zebra sat"}, tokenizer)
    vocab = tokenizer.vocab_size
    assert task._oovs[example.id] == ["zebra"] and example.n_oovs == 1
    assert example.source_ext[1] == vocab and example.target_ext[0] == vocab
    batch = task.collate([example, task.encode({"source": "a dog ran", "target": "dog ran"}, tokenizer)])
    model.train()
    loss, _ = task.forward_loss(model, batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.gate.weight.grad is not None


def test_synthetic_pairs_are_deterministic():
    assert synthetic_pairs(mode="reverse", size=5, seed=3) == synthetic_pairs(mode="reverse", size=5, seed=3)
    record = synthetic_pairs(mode="reverse", size=1)[0]
    assert record["target"].split() == record["source"].split()[::-1]


def test_a_row_cannot_emit_another_rows_copied_word():
    """The batch's second row has no unknown word: the temporary id of the first row's 'zebra' names no
    word for it and must be impossible, not merely improbable."""
    task, tokenizer, model = tiny()
    vocab = tokenizer.vocab_size
    examples = [task.encode({"source": s, "target": "sat"}, tokenizer) for s in ("the zebra sat", "the cat sat")]
    model.eval()
    with torch.no_grad():
        log_probs, _, _ = model(task.collate(examples))
    assert log_probs.shape[-1] == vocab + 1
    assert torch.isfinite(log_probs[0, :, vocab]).all()  # zebra's own row can copy it
    assert torch.isneginf(log_probs[1, :, vocab]).all()
