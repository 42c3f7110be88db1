"""What tests anywhere under tests/ share: the repository's root, the skip for an absent corpus, torch.nn on padded
batches, random layer configurations and gradient comparisons, plugin distributions written or installed for a test,
a one-cell plugin manager and a cell whose step cannot be traced, the CLI in a subprocess.

The conformance kit's own helpers (``as_tuple``, ``weighted_loss``) are imported from seqkit.testing.common, not
repeated here."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqkit
from seqkit.testing.common import as_tuple, weighted_loss

ROOT = Path(__file__).resolve().parent.parent  # the repository: tests build every path from here, at any depth
# A test of code that must never open a named pipe fails rather than hangs: after this long the `fifo` fixture
# (tests/conftest.py) releases a reader blocked opening one (the reader then reads nothing).
FIFO_RESCUE_S = 60.0


def data_absent(reason: str) -> None:
    """Skip a test whose corpus is not here; CI sets SEQKIT_REQUIRE_DATA=1, where it fails instead."""
    if os.environ.get("SEQKIT_REQUIRE_DATA") == "1":
        pytest.fail(f"{reason} (SEQKIT_REQUIRE_DATA=1: the corpora must be present)")
    pytest.skip(reason)


def torch_forward(module: nn.RNNBase, x, lengths=None, state=None):
    """torch.nn's batch-first answer, with packing for variable lengths (its exact semantics)."""
    if lengths is None:
        return module(x, state)
    packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    out, final = module(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, final


CELLS = [("gru", {}, nn.GRU), ("lstm", {}, nn.LSTM), ("rnn", {"nonlinearity": "tanh"}, nn.RNN),
         ("rnn", {"nonlinearity": "relu"}, nn.RNN), ("gru", {"reset_after": False}, None)]  # fmt: skip


def random_config(rng: random.Random) -> dict:
    """A random cell (of CELLS), its options, sizes, layers, directions, lengths (empty ones too) and initial state."""
    kind, options, torch_type = rng.choice(CELLS)
    steps, batch = rng.randint(1, 30), rng.randint(1, 8)
    lengths = [rng.choice([0, 1, steps, rng.randint(0, steps)]) for _ in range(batch)]
    return {
        "kind": kind,
        "options": {**options, "bias": rng.random() < 0.8},
        "torch_type": torch_type,
        "input_size": rng.randint(1, 12),
        "hidden_size": rng.randint(1, 20),
        "num_layers": rng.randint(1, 3),
        "bidirectional": rng.random() < 0.5,
        "x_shape": (batch, steps),
        "lengths": None if rng.random() < 0.2 else lengths,
        "with_state": rng.random() < 0.5,
    }


def outputs_and_grads(layer, x, lengths, state):
    """Outputs, final state parts and the gradients of weighted_loss for x and every weight (zeros where none)."""
    x = x.clone().requires_grad_()
    out, final = layer(x, lengths, state)
    wrt = [x, *layer.parameters()]
    loss = weighted_loss(out, final)
    if not loss.requires_grad:  # every sequence empty: nothing depends on x or the weights
        return [out, *as_tuple(final), *(torch.zeros_like(w) for w in wrt)]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    return [out, *as_tuple(final), *(torch.zeros_like(w) if g is None else g for w, g in zip(wrt, grads))]


def assert_close_grads(named_a, named_b, atol, rtol=1e-5):
    a, b = dict(named_a), dict(named_b)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].grad is not None, f"no gradient for {name}"
        torch.testing.assert_close(a[name].grad, b[name].grad, atol=atol, rtol=rtol, msg=lambda m, n=name: f"{n}: {m}")


def make_distribution(root, dist, version, entry_points, modules):
    """Write an installed distribution (dist-info with entry points) and its modules under *root*."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[seqkit]\n{lines}\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


def seqkit_in(
    env: dict[str, str], *args: object, cwd: Path | None = None, code: int = 0
) -> subprocess.CompletedProcess:
    """``python -m seqkit.cli ARGS`` in a subprocess with *env* (install_packages' puts packages on its path); the
    command must exit with *code*, else the test fails showing its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "seqkit.cli", *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert result.returncode == code, result.stderr[-3000:]
    return result


def install_packages(tmp_path_factory, *packages):
    """Build and pip-install *packages* (source folders) into a fresh directory, without build isolation, network
    or dependencies; an environment for subprocesses that puts them on the path (the dev venv stays untouched)."""
    target = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("src")
    builds = []
    for package in packages:
        build = sources / package.name
        shutil.copytree(package, build, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        builds.append(str(build))  # built outside the source tree, leaving no build/ behind
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(target), *builds], check=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")])
    env.pop("SEQKIT_PLUGINS", None)
    env.pop("SEQKIT_DISABLE_PLUGINS", None)
    return env, target


def cell_plugin(name: str, cell_type: type) -> seqkit.PluginManager:
    """A plugin manager holding one plugin, *name*, that registers *cell_type* as the cell *name*."""

    class Plugin:
        @staticmethod
        @seqkit.hookimpl
        def register_cells(register):
            register(seqkit.Spec(name, build=cell_type))

    return seqkit.PluginManager([(name, Plugin)], entry_points=False)


class DataDependent(seqkit.Cell):
    """Python control flow on a value: neither torch.fx nor make_fx can trace its step, so it runs as written."""

    def parameter_shapes(self):
        return seqkit.torch_style_shapes(self, 1, bias=False)

    def step(self, params, x_t, state):
        scale = 0.5 if float(x_t.abs().sum()) > 1e6 else 1.0
        h = torch.tanh(scale * F.linear(x_t, params["weight_ih"]) + F.linear(state[0], params["weight_hh"]))
        return h, (h,)
