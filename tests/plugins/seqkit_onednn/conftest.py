"""What the onednn kernel's tests share: the kernel, built once for each file, or every test here skips."""

from __future__ import annotations

import os

import pytest
import torch

import seqkit


@pytest.fixture(scope="module", autouse=True)
def onednn_here():
    """Build (once) or skip; CI sets SEQKIT_REQUIRE_ONEDNN=1, where a missing kernel is a failure instead."""
    support = pytest.importorskip("seqkit_onednn.support")
    cell = seqkit.get_plugin_manager().cells.get("gru").build(2, 3)
    why = support.supports(cell, torch.device("cpu"), torch.float32)
    if why is not None:
        if os.environ.get("SEQKIT_REQUIRE_ONEDNN") == "1":
            pytest.fail(f"the onednn kernel is required here but unavailable: {why}")
        pytest.skip(f"onednn unavailable: {why}")
