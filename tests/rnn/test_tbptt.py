"""Truncated BPTT (``tbptt_steps``): one chunk is full BPTT; shorter chunks keep forward values and cut gradients."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import seqkit
from seqkit import tbptt
from seqkit.config import task_builder_options
from seqkit.errors import InvalidArgumentError
from tests.recipe_helpers import TINY, cli

B, T, I, H = 4, 7, 3, 5
LENGTHS = torch.tensor([T, 0, 3, 5])  # a full row, an empty one, rows ending inside earlier chunks


def _layer(kind: str, backend: str) -> seqkit.Recurrent:
    torch.manual_seed(0)
    return seqkit.create_rnn(kind, I, H, num_layers=2, bidirectional=True, backend=backend).double()


def _inputs(layer: seqkit.Recurrent) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, dtype=torch.float64, generator=generator)
    rows = layer.num_layers * layer.num_directions
    state = tuple(torch.randn(rows, B, H, dtype=torch.float64, generator=generator) for _ in layer.cell.state_sizes)
    return x, state


def _loss(out: torch.Tensor, final: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """A loss that reads every output step and every final state, with weights that differ everywhere."""
    generator = torch.Generator().manual_seed(2)
    total = (out * torch.randn(out.shape, dtype=out.dtype, generator=generator)).sum()
    for part in final:
        total = total + (part * torch.randn(part.shape, dtype=part.dtype, generator=generator)).sum()
    return total


def _run(layer: seqkit.Recurrent, x, state, lengths=LENGTHS) -> list[torch.Tensor]:
    """Outputs, final states, then the gradients of every parameter, of the input and of the initial state."""
    x = x.clone().requires_grad_()
    state = tuple(s.clone().requires_grad_() for s in state)
    out, final = layer(x, lengths, state if len(state) > 1 else state[0])
    final = final if isinstance(final, tuple) else (final,)
    leaves = [*layer.parameters(), x, *state]
    grads = torch.autograd.grad(_loss(out, final), leaves)
    return [out.detach(), *(f.detach() for f in final), *grads]


def _hand_truncated(layer: seqkit.Recurrent, x, state, lengths, steps: int) -> list[torch.Tensor]:
    """The definition, written out: each row, layer and direction stepped one at a time in its own scan order,
    the state detached before every ``steps``-th step; the same outputs and gradients as :func:`_run`."""
    x = x.clone().requires_grad_()
    state = tuple(s.clone().requires_grad_() for s in state)
    per = layer.num_directions
    finals: list[list[list[torch.Tensor]]] = [[[] for _ in range(layer.num_layers * per)] for _ in state]
    inputs = x
    for index, cell in enumerate(layer.cells):
        directions = []
        for direction in range(per):
            params = layer.weights(index, direction)
            rows = []
            for b in range(B):
                n = int(lengths[b])
                carried = tuple(s[index * per + direction, b : b + 1] for s in state)
                row = [inputs.new_zeros(1, H) for _ in range(T)]
                for j, t in enumerate(range(n) if direction == 0 else range(n - 1, -1, -1)):
                    if j and j % steps == 0:
                        carried = tuple(s.detach() for s in carried)
                    row[t], carried = cell.step(params, cell.project(params, inputs[b : b + 1, t]), carried)
                rows.append(torch.cat(row, 0))
                for part, value in enumerate(carried):
                    finals[part][index * per + direction].append(value)
            directions.append(torch.stack(rows))
        inputs = torch.cat(directions, -1)
    final = tuple(torch.stack([torch.cat(row, 0) for row in part]) for part in finals)
    grads = torch.autograd.grad(_loss(inputs, final), [*layer.parameters(), x, *state])
    return [inputs.detach(), *(f.detach() for f in final), *grads]


KERNELS = pytest.mark.parametrize("kind,backend", [(k, b) for k in ("gru", "lstm") for b in ("reference", "native")])


@KERNELS
@pytest.mark.parametrize("steps", [T, T + 5])
def test_one_chunk_equals_full_bptt(kind, backend, steps):
    layer = _layer(kind, backend)
    x, state = _inputs(layer)
    full = _run(layer, x, state)
    layer.tbptt_steps = steps
    one_chunk = _run(layer, x, state)
    assert len(full) == len(one_chunk)
    for a, b in zip(full, one_chunk, strict=True):
        assert torch.equal(a, b)


@KERNELS
@pytest.mark.parametrize("steps", [1, 2, 3])
def test_chunks_keep_forward_values_and_truncate_gradients(kind, backend, steps):
    layer = _layer(kind, backend)
    x, state = _inputs(layer)
    full = _run(layer, x, state)
    layer.tbptt_steps = steps
    chunked = _run(layer, x, state)
    outputs = 1 + len(state)
    for a, b in zip(full[:outputs], chunked[:outputs], strict=True):
        # the same computation in pieces; a chunk's input GEMM may round differently from the whole sequence's
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-14)
    expected = _hand_truncated(layer, x, state, LENGTHS, steps)
    for a, b in zip(expected, chunked, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)
    # truncation really happened: some gradient differs from full BPTT
    assert any(not torch.allclose(a, b, rtol=1e-6, atol=1e-9) for a, b in zip(full[outputs:], chunked[outputs:]))


def test_full_length_batches_and_one_direction():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", I, H, num_layers=1, backend="native", tbptt_steps=3).double()
    x, state = _inputs(layer)
    full = torch.full((B,), T)
    chunked = _run(layer, x, state, lengths=None)
    expected = _hand_truncated(layer, x, state, full, 3)
    for a, b in zip(expected, chunked, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def test_eval_mode_and_no_grad_run_unchunked(monkeypatch):
    calls = []
    original = tbptt.run_truncated
    monkeypatch.setattr(tbptt, "run_truncated", lambda *a: calls.append(1) or original(*a))
    layer = _layer("lstm", "reference")
    x, state = _inputs(layer)
    reference = layer(x, LENGTHS, state)
    layer.tbptt_steps = 2
    layer.train()
    with torch.no_grad():
        under_no_grad = layer(x, LENGTHS, state)
    layer.eval()
    in_eval = layer(x, LENGTHS, state)
    assert not calls
    for result in (under_no_grad, in_eval):
        assert torch.equal(result[0], reference[0]) and all(map(torch.equal, result[1], reference[1]))
    layer.train()
    layer(x, LENGTHS, state)
    assert len(calls) == layer.num_layers  # each layer chunked once per forward


@pytest.mark.parametrize("bad", [0, -1, 2.5, "x", True])
def test_bad_tbptt_steps_are_rejected(bad):
    with pytest.raises(InvalidArgumentError, match="tbptt_steps must be an integer >= 1"):
        seqkit.create_rnn("gru", I, H, tbptt_steps=bad)
    layer = seqkit.create_rnn("gru", I, H)
    with pytest.raises(InvalidArgumentError, match="tbptt_steps"):
        layer.tbptt_steps = bad


def test_copies_and_pickles_keep_tbptt_steps():
    layer = seqkit.create_rnn("gru", I, H, tbptt_steps=4)
    assert copy.deepcopy(layer).tbptt_steps == 4
    assert pickle.loads(pickle.dumps(layer)).tbptt_steps == 4
    del layer.__dict__["_tbptt_steps"]  # a layer pickled before the option existed
    assert pickle.loads(pickle.dumps(layer)).tbptt_steps is None


def test_task_builders_get_tbptt_steps_only_when_they_name_it():
    def plain(pooling: str = "last") -> None: ...

    def own(pooling: str = "last", tbptt_steps: int | None = None) -> None: ...

    section = {"kind": "x", "pooling": "max", "tbptt_steps": 3}
    assert task_builder_options(section, plain) == {"pooling": "max"}
    assert task_builder_options(section, own) == {"pooling": "max", "tbptt_steps": 3}


def test_cli_training_with_tbptt(capsys, tmp_path, monkeypatch):
    calls = []
    original = tbptt.run_truncated
    monkeypatch.setattr(tbptt, "run_truncated", lambda *a: calls.append(a[1]) or original(*a))
    code, out, err = cli(capsys, "train", "quickstart", *TINY, "task.tbptt_steps=3", f"run_dir={tmp_path}")
    assert code == 0, err
    assert calls and set(calls) == {3}  # the sentiment model's encoder trained in chunks of 3
    assert "tbptt_steps: 3" in (tmp_path / "recipe.yaml").read_text()
    assert "test/accuracy: " in out


@pytest.mark.parametrize("bad", ["0", "-1", "x", "2.5"])
def test_cli_rejects_bad_tbptt_steps(capsys, tmp_path, bad):
    code, _, err = cli(capsys, "train", "quickstart", *TINY, f"task.tbptt_steps={bad}", f"run_dir={tmp_path / 'r'}")
    assert code == 2
    assert err.strip().count("\n") == 0 and "command line: task.tbptt_steps: expected" in err, err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


def test_validate_names_the_line(capsys, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "data: {kind: synthetic_sentiment, size: 50}\ntokenizer: {kind: word}\n"
        "task:\n  kind: sentiment\n  tbptt_steps: 0\nmodel:\n  cell: {kind: gru, hidden_size: 8}\n"
    )
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and f"{path}:5: task.tbptt_steps: expected at least 1" in err, err
    path.write_text(path.read_text().replace("tbptt_steps: 0", "tbptt_steps: 4"))
    assert cli(capsys, "validate", path)[0] == 0


def test_a_task_that_names_tbptt_steps_receives_it_and_its_model_is_chunked():
    from seqkit_sentiment.task import SentimentTask

    from seqkit.build import build
    from seqkit.recipes import load_recipe

    received = []

    def own(pooling: str = "last", tbptt_steps: int | None = None) -> SentimentTask:
        received.append(tbptt_steps)
        return SentimentTask(pooling=pooling)

    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_tasks(register):
            register(seqkit.Spec("own_tbptt", build=own, description="sentiment that reads tbptt_steps"))

    manager = seqkit.PluginManager([("own_tbptt", Plugin)])
    recipe = load_recipe("quickstart", [*TINY, "task.kind=own_tbptt", "task.tbptt_steps=2"])
    parts = build(recipe, manager, splits=("train", "valid"))
    assert received and set(received) == {2}
    layers = [m for m in parts.module.modules() if isinstance(m, seqkit.Recurrent)]
    assert layers and all(layer.tbptt_steps == 2 for layer in layers)
