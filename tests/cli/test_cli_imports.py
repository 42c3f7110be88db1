"""The instant CLI: commands that only read metadata, entry points or recipes do not import torch or Lightning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BUILT_IN = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
PROBE = """
import json, sys
from seqkit.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as stop:  # --help and --version end in argparse's exit
    status = stop.code
heavy = [name for name in ("torch", "pytorch_lightning", "lightning") if name in sys.modules]
print(json.dumps({"status": status, "heavy": heavy}), file=sys.stderr)
"""


def _heavy(*argv: str, **env: str) -> list[str]:
    """The heavy frameworks a fresh interpreter imported to run ``seqkit ARGV``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["status"] in (0, None), done.stderr
    return report["heavy"]


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["train", "--help"], ["bench", "--help"], ["predict", "--help"]]
)
def test_help_and_version_import_neither_torch_nor_lightning(argv: list[str]) -> None:
    assert _heavy(*argv) == []


def test_plugins_imports_torch_only_for_a_plugin_whose_registration_needs_it() -> None:
    # seq2seq registers a data source alone: nothing of seqkit's own on the way needs torch
    assert _heavy("plugins", SEQKIT_PLUGINS="seq2seq") == []


def test_the_built_in_plugin_modules_are_light() -> None:
    """Loading a plugin's entry point (its package) imports no framework; its hooks import what they register."""
    heavy = "[m for m in ('torch', 'pytorch_lightning') if m in sys.modules]"
    probe = f"import sys; import {', '.join(BUILT_IN)}; print({heavy})"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["plugins"], ["ls"], ["ls", "kernels"], ["plugins", "--json"]])
def test_plugins_and_ls_import_neither_torch_nor_lightning_with_every_built_in_installed(argv: list[str]) -> None:
    # the built-ins name their cells, kernels and tasks as "module:attribute", imported when first built
    assert _heavy(*argv) == []


def test_a_recipe_that_is_not_valid_yaml_is_reported_without_torch(tmp_path: Path) -> None:
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("data: [\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "validate", str(recipe)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"status": 2, "heavy": []}
    assert f"{recipe}:2: not valid YAML" in done.stderr


def test_lightning_and_training_stops_are_still_reported_once_loaded(monkeypatch, capsys) -> None:
    """The CLI catches Lightning's SIGTERM and seqkit's TrainingStopped without importing them up front."""
    import signal

    from pytorch_lightning.utilities.exceptions import SIGTERMException

    import seqkit.cli.validate
    from seqkit.cli import main
    from seqkit.resilience import TrainingStopped

    for raised, status, said in (
        (SIGTERMException(), 143, "terminated (SIGTERM)"),
        (TrainingStopped(signal.SIGINT, Path("last.ckpt")), 130, "SIGINT: stopped after saving last.ckpt"),
    ):

        def stopped(args: object, raised: BaseException = raised) -> int:
            raise raised

        monkeypatch.setattr(seqkit.cli.validate, "_validate", stopped)
        assert main(["validate", "quickstart"]) == status
        assert said in capsys.readouterr().err


def test_every_public_name_is_mapped_to_its_module_and_resolves() -> None:
    """``seqkit`` imports its names lazily: a name added to ``__all__`` must be in ``_SOURCES`` too."""
    import seqkit

    assert set(seqkit._WHERE) | {"__version__"} == set(seqkit.__all__)
    for name in seqkit.__all__:
        assert getattr(seqkit, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        seqkit.nothing_here  # noqa: B018
