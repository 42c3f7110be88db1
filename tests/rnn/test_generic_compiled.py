"""``SEQKIT_GENERIC_LOOP=compiled``: the one-node loop's step graphs compiled by inductor, eager wherever that fails."""

from __future__ import annotations

import types

import pytest
import torch
from torch import fx

import seqkit
from seqkit.rnn import loopnode, packedgemm, stepcompile, steploop, writeinto
from tests.helpers import cell_plugin
from tests.rnn.test_generic_kernel import StepOnlyLayerNormRNN
from tests.rnn.test_generic_loop import _compare, _looped


@pytest.fixture
def compiled(monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "compiled")
    monkeypatch.setattr(steploop, "_shared", {})  # graphs derived afresh in this mode
    monkeypatch.setattr(stepcompile, "_broken", [])


@pytest.fixture
def no_inductor(monkeypatch, compiled):
    attempts = []

    def refuse(name):
        attempts.append(name)
        raise ImportError(f"no module named {name!r}")

    monkeypatch.setattr(stepcompile, "importlib", types.SimpleNamespace(import_module=refuse))
    return attempts


def _step_graphs():
    return [graphs for entry in steploop._shared.values() for graphs, _ in entry.values()]


# compiling takes seconds (5 s warm, 16 s with inductor's on-disk cache empty): one cell in the default suite, since
# the default mode compiles a long training run's steps
@pytest.mark.parametrize("kind", ["lstm", pytest.param("ln_gru", marks=pytest.mark.slow)])
def test_compiled_step_graphs_match_the_step_loop(compiled, kind):
    out = _compare(kind, bidirectional=True)  # float64, to 1e-10 against reference
    assert _looped(out)
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    (graphs,) = _step_graphs()
    assert graphs.forward.fns and not graphs.forward.off  # the compiled kernels ran, not the eager graphs


def test_without_inductor_the_loop_runs_its_eager_graphs(no_inductor):
    out = _compare("lstm")
    assert _looped(out)
    assert "ImportError" in stepcompile.reason()
    (graphs,) = _step_graphs()
    assert graphs.forward.off and not graphs.forward.fns


def test_a_step_with_little_to_fuse_is_not_compiled(compiled, monkeypatch):
    tried = []
    monkeypatch.setattr(stepcompile, "importlib", types.SimpleNamespace(import_module=tried.append))
    _compare("rnn")  # a GEMM and a tanh a step: compiling would only add the compiled call's cost
    assert tried == [] and stepcompile.reason() is None


def test_compiled_shapes_per_cell_are_bounded(no_inductor):
    layer = seqkit.create_rnn("lstm", 3, 5, backend="generic")
    for batch in [*range(1, steploop.COMPILED_SHAPES + 3), 1]:  # the first shape again: still its compiled graphs
        layer(torch.randn(batch, 9, 3))[0].sum().backward()
    (entry,) = steploop._shared.values()
    fused = [key[0] for key in entry]
    assert fused.count(True) == steploop.COMPILED_SHAPES and fused.count(False) == 2
    assert len(no_inductor) == stepcompile._GIVE_UP  # then no graph tries again, though six could have


def test_auto_compiles_a_shape_once_it_recurs(no_inductor, monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "auto")  # the default outside the test suite
    monkeypatch.setattr(steploop, "COMPILE_AFTER", 3)
    monkeypatch.setattr(steploop, "_runs", {})
    layer = seqkit.create_rnn("lstm", 3, 5, backend="generic")
    x = torch.randn(2, 9, 3)
    for _ in range(2):
        layer(x)[0].sum().backward()
    assert no_inductor == []  # eager graphs: no compiling tried yet
    layer(x)[0].sum().backward()
    (entry,) = steploop._shared.values()
    (eager, _), (compiled, _) = entry[next(k for k in entry if not k[0])], entry[next(k for k in entry if k[0])]
    assert compiled.forward.eager is eager.forward  # the graphs traced before, not traced again
    assert no_inductor  # compiling tried (and refused here: the eager graphs ran)
    layer(torch.randn(3, 9, 3))[0].sum().backward()  # a new shape starts counting afresh
    assert len(entry) == 3


def test_arguments_laid_out_otherwise_run_eagerly():
    def eager(a, b):
        return [a + b]

    def refusing(a, b):
        raise AssertionError("expected size 2==2, stride 1==2 at dim=0")

    graph = stepcompile.Compiled(None, eager, varying=())
    graph.fns[()] = refusing
    a, b = torch.ones(2), torch.arange(2.0)
    for _ in range(stepcompile._MISMATCHES):
        assert torch.equal(graph(a, b)[0], a + b)
    assert graph.off  # given up: no exception raised and caught at every step from now on


def test_a_destination_laid_out_otherwise_is_written_through_a_stand_in():
    def writer(out, value):  # what a compiled variant for contiguous arguments does
        assert out.is_contiguous()
        return [out.copy_(value * 2)]

    graph = stepcompile.Compiled(None, writer, varying=(0,), written=(0,))
    graph.fns.update({((1,),): writer, ((2,),): writer, None: writer})  # its layouts taken: others are copied
    whole = torch.zeros(3, 4)
    value = torch.arange(3.0)
    graph(whole[:, 1], value)  # a column: strided, so the variant for copies runs on a contiguous stand-in
    assert torch.equal(whole[:, 1], value * 2) and whole[:, [0, 2, 3]].eq(0).all()


def test_a_graph_writes_the_chosen_results_into_the_tensors_it_is_handed():
    def step(a, b):
        return a + b, a * b, b

    module = writeinto.writing(fx.symbolic_trace(step), [0, 2])
    a, b = torch.arange(3.0), torch.full((3,), 2.0)
    into = torch.zeros(2, 3)
    kept = module(a, b, into[0], into[1])
    assert torch.equal(into[0], a + b) and torch.equal(into[1], b)
    assert torch.equal(kept[0], a * b) and len(kept) == 3  # what it does not write, then the two copies
    assert writeinto.writing(fx.symbolic_trace(lambda a: (a + 1, None)), [1]) is None  # nothing to write


def test_compiled_backward_writes_input_gradients_and_weight_rows_in_place(compiled, monkeypatch):
    copied = []
    put = loopnode._Stacked.put
    monkeypatch.setattr(loopnode._Stacked, "put", lambda self, t, part: (copied.append(t), put(self, t, part))[1])
    # 40 steps of 4 rows: three chunks of weight-gradient rows. The shortest sequence has 13 steps: the steps from 13
    # on take the general path (lengths masking) and copy, the first 13 run the graph that writes in place, some of
    # both into one chunk
    out = _compare("ln_lstm", steps=40, lengths=(40, 13, 40, 27))  # float64, to 1e-10 against reference
    assert _looped(out)
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    ((_, batched),) = [v for entry in steploop._shared.values() for v in entry.values()]
    assert batched.writing is not None
    assert sorted(copied) == list(range(13, 40))
    copied.clear()
    _compare("ln_lstm", steps=40, lengths=(40, 40, 40, 40))
    assert copied == []  # every step written where it goes


@pytest.mark.slow  # imports inductor and lets it try
def test_without_a_compiler_the_loop_runs_its_eager_graphs(compiled, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # no kernel built before to find there
    monkeypatch.setattr(stepcompile, "_OPTIONS", {**stepcompile._OPTIONS, "cpp.cxx": (None, str(tmp_path / "no-g++"))})
    out = _compare("ln_lstm")
    assert _looped(out)
    assert "no-g++" in stepcompile.reason()
    (graphs,) = _step_graphs()
    assert graphs.forward.off and not graphs.forward.fns


@pytest.mark.slow  # compiles a step's graphs: 2-8 s
def test_a_layer_norm_after_the_input_matmul_runs_compiled_in_the_step(compiled):
    out = _compare("custom", plugins=cell_plugin("custom", StepOnlyLayerNormRNN))  # float64, to 1e-10
    assert _looped(out)
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    (graphs,) = _step_graphs()
    assert graphs.forward.fns and not graphs.forward.off  # the layer norm fused into the compiled step


def _compiled_parts(run):
    return [run] if isinstance(run, stepcompile.Compiled) else run.parts


def test_saved_step_inputs_laid_out_by_the_length_keep_the_compiled_backward(compiled, monkeypatch):
    # ln_lstm's backward reads a step's slice of the sequence it saved: its strides follow the length, like the
    # gradients'. Read as fixed, each new length tripped inductor's stride check until the backward ran eagerly for good
    if not packedgemm.wanted():
        pytest.skip("no oneDNN linear in this torch: the step's graphs are not cut at their GEMMs")
    monkeypatch.setattr(packedgemm, "MIN_WORK", 1)  # the step's GEMMs cut the graphs into parts at this small shape
    torch.manual_seed(0)
    layer = seqkit.create_rnn("ln_lstm", 3, 5, backend="generic")
    reference = seqkit.create_rnn("ln_lstm", 3, 5, backend="reference")
    reference.load_state_dict(layer.state_dict())
    gen = torch.Generator().manual_seed(0)
    for steps in range(9, 9 + 2 * stepcompile._MISMATCHES, 2):
        x = torch.randn(4, steps, 3, generator=gen)
        grads = [torch.autograd.grad(m(x)[0].sum(), list(m.parameters())) for m in (layer, reference)]
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)  # float32, layer norms of 5 and 20 values
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    ((graphs, batched),) = [v for entry in steploop._shared.values() for v in entry.values()]
    assert batched.writing is not None
    for run in (graphs.forward, graphs.backward, batched.recurrent, batched.writing):
        for part in _compiled_parts(run):
            assert part.mismatches == 0 and not part.off
    assert any(part.fns for part in _compiled_parts(batched.writing))
