"""Helpers for recipe and training tests: write recipes, run the CLI in-process, a tiny quickstart."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from seqkit.cli import main
from tests.helpers import ROOT

# A few seconds of CPU: the quickstart's corpus, cut small.
TINY = [
    "data.size=240",
    "data.batch_size=16",
    "model.embed_dim=8",
    "model.cell.hidden_size=12",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def write_recipe(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def train_tiny(folder: Path, *overrides: str) -> Path:
    """Train the tiny quickstart (TINY, then *overrides*) in-process into *folder*/run; that run directory."""
    run = folder / "run"
    assert main(["train", "quickstart", *TINY, *overrides, f"run_dir={run}"]) == 0
    return run


def quickstart() -> dict:
    return yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
