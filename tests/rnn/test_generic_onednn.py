"""The generic loop's float32 CPU GEMMs through oneDNN: weights packed once a sequence, compiled graphs cut at them."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.rnn import loopnode, packedgemm, stepcompile, steploop, writeinto
from seqkit.rnn.stepsegments import Parts
from tests.helpers import cell_plugin
from tests.rnn.test_generic_loop import CELLS, _looped

ONEDNN = packedgemm.LINEAR is not None and torch.backends.mkldnn.is_available()
pytestmark = pytest.mark.skipif(not ONEDNN, reason="torch without oneDNN")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(steploop, "_shared", {})  # graphs derived afresh for each GEMM choice
    monkeypatch.setattr(stepcompile, "_broken", [])
    monkeypatch.setattr(packedgemm, "MIN_WORK", 0)  # the tests' small GEMMs through oneDNN too


def _run(kind, options, gemm, loop, monkeypatch, *, bidirectional=True, lengths=(11, 7, 0, 9, 11), plugins=None):
    """float32 generic (or reference) layer, varied lengths: outputs, final states and every gradient."""
    monkeypatch.setenv("SEQKIT_GENERIC_GEMM", gemm)
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", loop)
    torch.manual_seed(0)
    backend = "reference" if loop == "reference" else "generic"
    layer = seqkit.create_rnn(kind, 6, 16, backend=backend, bidirectional=bidirectional, plugins=plugins, **options)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(len(lengths), max(lengths), 6, generator=gen, requires_grad=True)
    lengths = torch.tensor(lengths)
    out, final = layer(x, lengths)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (out * torch.linspace(-1, 1, out.shape[-1])).sum() + sum((f**2).sum() for f in finals)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return out, (out, *finals, *grads)


def _close(a, b):
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind,options", CELLS, ids=[f"{k}-{o}" for k, o in CELLS])
def test_onednn_gemms_match_the_reference_in_float32(kind, options, monkeypatch):
    out, fast = _run(kind, options, "mkldnn", "node", monkeypatch)
    assert _looped(out)
    _close(fast, _run(kind, options, "mkldnn", "reference", monkeypatch)[1])
    _close(fast, _run(kind, options, "aten", "node", monkeypatch)[1])


@pytest.mark.parametrize("kind,options", CELLS, ids=[f"{k}-{o}" for k, o in CELLS])
def test_weight_gradients_summed_over_several_chunks_match_the_reference(kind, options, monkeypatch):
    # 4 rows a step: chunks of 16 steps, so 40 steps flush three chunks' weight gradients into the sums
    lengths = (40, 33, 0, 40)
    out, fast = _run(kind, options, "mkldnn", "node", monkeypatch, lengths=lengths)
    assert _looped(out)
    _close(fast, _run(kind, options, "mkldnn", "reference", monkeypatch, lengths=lengths)[1])


@pytest.mark.parametrize("gemm", ["mkldnn", "aten"])
def test_a_weight_changed_in_place_before_backward_is_refused(gemm, monkeypatch):
    """As for the step loop: backward must not run on a weight changed since forward (the packed copy is stale)."""
    monkeypatch.setenv("SEQKIT_GENERIC_GEMM", gemm)
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "node")
    layer = seqkit.create_rnn("lstm", 6, 16, backend="generic")
    out, _ = layer(torch.randn(4, 12, 6))
    assert _looped(out)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(2)  # an optimiser step taken between forward and backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation|view .* modified inplace"):
        out.sum().backward()


class Factorised(seqkit.Cell):
    """A recurrent matrix in two factors, ``h Aᵀ Bᵀ``: one GEMM's result is the next one's input."""

    def parameter_shapes(self):
        size = self.hidden_size
        return {"weight_ih": (size, self.input_size), "a": (size, size), "b": (size, size)}

    def project(self, params, x):
        return seqkit.linear(x, params["weight_ih"])

    def step(self, params, u_t, state):
        h = torch.tanh(u_t + F.linear(F.linear(state[0], params["a"]), params["b"]))
        return h, (h,)


def test_chained_gemms_are_both_packed(monkeypatch):
    plugins = cell_plugin("factorised", Factorised)
    out, fast = _run("factorised", {}, "mkldnn", "node", monkeypatch, plugins=plugins)
    assert _looped(out)
    _close(fast, _run("factorised", {}, "mkldnn", "reference", monkeypatch, plugins=plugins)[1])
    graphs = [g for g, _ in _graphs()]
    assert graphs and all(_targets(g.modules[0]).count(packedgemm.LINEAR) == 2 for g in graphs)


def _graphs():
    return [graphs for entry in steploop._shared.values() for graphs in entry.values()]


def _targets(module):
    return [n.target for n in module.graph.nodes if n.op == "call_function"]


def test_the_step_multiplies_by_weights_packed_once_per_sequence(monkeypatch):
    flipped = []
    flip = packedgemm.flip_products
    monkeypatch.setattr(packedgemm, "flip_products", lambda graph: flipped.append(flip(graph)) or flipped[-1])
    _run("lstm", {}, "mkldnn", "node", monkeypatch, bidirectional=False)
    ((graphs, batched),) = _graphs()
    forward, _ = graphs.modules
    aten = torch.ops.aten
    # h Wᵀ forward, g W backward (the loop's recurrent part; the weight gradients leave it): oneDNN, no mm left
    for module in (forward, batched.recurrent_module):
        assert packedgemm.LINEAR in _targets(module)
        assert not {aten.mm.default, aten.addmm.default} & set(_targets(module))
    shapes = seqkit.create_rnn("lstm", 6, 16).cell.parameter_shapes().values()
    statics = graphs.prologue(*[torch.randn(s) for s in shapes])
    assert sum(isinstance(s, torch.Tensor) and s.is_mkldnn for s in statics) == 2  # W and Wᵀ, packed
    assert batched is not None and flipped == [1]  # the weight gradient, once per chunk of steps, as (Xᵀ G)ᵀ


def test_aten_keeps_torchs_own_gemms(monkeypatch):
    _run("lstm", {}, "aten", "node", monkeypatch, bidirectional=False)
    ((graphs, _),) = _graphs()
    for module in graphs.modules:
        assert packedgemm.LINEAR not in _targets(module)


def test_a_bad_gemm_choice_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_GEMM", "blas")
    layer = seqkit.create_rnn("gru", 6, 16, backend="generic")
    x = torch.randn(2, 9, 6)
    calls = [  # on every path: the loop node, the plain loop without gradients, float64, seqkit.linear
        lambda: layer(x.requires_grad_()),
        lambda: layer(x.detach()),
        lambda: layer.double()(x.detach().double().requires_grad_()),
        lambda: seqkit.linear(x.detach().double(), torch.ones(3, 6, dtype=torch.float64)),
    ]
    for call in calls:
        with pytest.raises(seqkit.InvalidArgumentError, match="SEQKIT_GENERIC_GEMM='blas'.*'mkldnn' or 'aten'"):
            call()


def test_a_bad_loop_choice_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "bogus")
    layer = seqkit.create_rnn("gru", 6, 16, backend="generic")
    for x in (torch.randn(2, 9, 6, requires_grad=True), torch.randn(2, 9, 6)):  # the node's path, and the plain one
        with pytest.raises(seqkit.InvalidArgumentError, match="SEQKIT_GENERIC_LOOP='bogus'.*'plain'"):
            layer(x)


def test_float64_and_other_dtypes_keep_torchs_gemms(monkeypatch):
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "node")
    layer = seqkit.create_rnn("gru", 6, 16, backend="generic").double()
    layer(torch.randn(2, 9, 6, dtype=torch.float64, requires_grad=True))[0].sum().backward()
    ((graphs, _),) = _graphs()
    assert all(packedgemm.LINEAR not in _targets(m) for m in graphs.modules)


# compiling takes seconds: the LSTM in the default suite, the cells with GEMMs mid-step and layer norms marked slow
@pytest.mark.parametrize(
    "kind,options",
    [
        ("lstm", {}),
        pytest.param("gru", {"reset_after": False}, marks=pytest.mark.slow),
        pytest.param("ln_lstm", {}, marks=pytest.mark.slow),
    ],
)
def test_compiled_graphs_are_cut_at_the_onednn_gemms(kind, options, monkeypatch):
    out, fast = _run(kind, options, "mkldnn", "compiled", monkeypatch)
    assert _looped(out)
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    _close(fast, _run(kind, options, "mkldnn", "reference", monkeypatch)[1])
    compiled = [g for g, _ in _graphs() if isinstance(g.forward, Parts)]
    assert compiled, "no step graph was cut at its GEMMs"
    if kind != "gru":  # no GEMM mid-step: the step's input-side work joins the gates' part, one fused kernel
        for graphs in compiled:
            assert len([p for p in graphs.forward.parts if p.fns]) == 1


def test_compiled_backward_cut_at_its_gemms_writes_its_results_in_place(monkeypatch):
    copied = []
    put = loopnode._Stacked.put
    monkeypatch.setattr(loopnode._Stacked, "put", lambda self, t, part: (copied.append(t), put(self, t, part))[1])
    lengths = (40, 40, 40, 40)  # full lengths: every step's backward writes; three chunks of weight rows
    out, fast = _run("lstm", {}, "mkldnn", "compiled", monkeypatch, lengths=lengths)
    assert _looped(out)
    if stepcompile.reason() is not None:
        pytest.skip(f"inductor cannot compile here: {stepcompile.reason()}")
    assert copied == []
    _close(fast, _run("lstm", {}, "mkldnn", "reference", monkeypatch, lengths=lengths)[1])
    writing = [batched.writing for _, batched in _graphs()]
    assert writing and all(isinstance(w, Parts) for w in writing)  # cut at the recurrent GEMM
    for w in writing:  # the copies compiled into a part's kernel, not run eagerly on their own
        assert any(p.fns and writeinto.COPY in _targets(p.module) for p in w.parts)


def test_small_gemms_keep_torchs_own(monkeypatch):
    """oneDNN's fixed cost outweighs its speed below MIN_WORK multiply-adds: 32 x 256 -> 256 stays MKL's."""
    monkeypatch.undo()
    monkeypatch.setattr(steploop, "_shared", {})
    monkeypatch.setenv("SEQKIT_GENERIC_LOOP", "node")
    for hidden, packed in ((256, False), (512, True)):
        steploop._shared.clear()
        layer = seqkit.create_rnn("rnn", 8, hidden, backend="generic")
        layer(torch.randn(32, 9, 8, requires_grad=True))[0].sum().backward()
        ((graphs, _),) = _graphs()
        assert (packedgemm.LINEAR in _targets(graphs.modules[0])) is packed
