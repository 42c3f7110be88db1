"""A real third-party package, built and installed into a temporary location, is discovered and used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT, install_packages

PACKAGE = ROOT / "tests" / "thirdparty" / "seqkit-mgu"

USE_IT = textwrap.dedent(
    """
    import torch, seqkit
    torch.manual_seed(0)
    layer = seqkit.create_rnn("mgu", 3, 4, num_layers=2, bidirectional=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, state = layer(x, torch.tensor([5, 2]))
    alone, _ = layer(x[1:, :2])
    assert out.shape == (2, 5, 8) and state.shape == (4, 2, 4)
    assert torch.allclose(out[1, :2], alone[0]) and torch.all(out[1, 2:] == 0)

    # one step by hand, against the formula in the package's README
    cell = seqkit.create_rnn("mgu", 3, 4).double()
    w_ih, w_hh, b_ih, b_hh = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0, cell.bias_hh_l0
    h = torch.zeros(4, dtype=torch.float64)
    for t in range(5):
        f = torch.sigmoid(w_ih[:4] @ x[0, t] + b_ih[:4] + w_hh[:4] @ h + b_hh[:4])
        cand = torch.tanh(w_ih[4:] @ x[0, t] + b_ih[4:] + w_hh[4:] @ (f * h) + b_hh[4:])
        h = (1 - f) * h + f * cand
    assert torch.allclose(cell(x[:1])[1][0, 0], h)

    from seqkit.testing import check_cell
    check_cell("mgu")  # the conformance kit, on an installed third-party cell
    print(cell.backend, seqkit.get_plugin_manager().cells.get("mgu").provenance)
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed with pip into a fresh directory; an environment that puts it on the path."""
    return install_packages(tmp_path_factory, PACKAGE)[0]


def test_the_installed_package_is_listed_by_seqkit_plugins(installed):
    result = subprocess.run(
        [sys.executable, "-m", "seqkit.cli", "plugins", "--json"],
        env=installed,
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["mgu"] == {
        "name": "mgu",
        "distribution": "seqkit-mgu",
        "version": "0.2.0",
        "registers": {"cells": ["mgu"]},
    }
    assert plugins["gru"]["distribution"] == "seqkit"


def test_the_installed_cell_is_used_through_create_rnn(installed):
    result = subprocess.run([sys.executable, "-c", USE_IT], env=installed, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "generic plugin 'mgu' (distribution seqkit-mgu 0.2.0)"


def test_the_package_can_be_blocked(installed):
    env = dict(installed, SEQKIT_DISABLE_PLUGINS="mgu")
    result = subprocess.run([sys.executable, "-c", USE_IT], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "unknown cell 'mgu'" in result.stderr
