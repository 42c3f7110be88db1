"""Values `seqkit validate` once passed and `seqkit train` then failed on: both commands now refuse each of them,
before anything runs, in one line naming the key and what was expected (exit status 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recipe_helpers import TINY, cli


def refused(capsys, tmp_path: Path, *overrides: str, recipe: str = "quickstart", train: bool = True) -> list[str]:
    """The one-line errors of `seqkit validate` and (with *train*) `seqkit train` for *recipe* with *overrides*."""
    messages = []
    for command in ("validate", "train") if train else ("validate",):
        run = tmp_path / f"{command}-run"
        extra = [*TINY, f"run_dir={run}"] if command == "train" else []
        code, out, err = cli(capsys, command, recipe, *extra, *overrides)
        assert code == 2, f"seqkit {command} exited {code}: {out}{err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"seqkit {command}: error: "), err
        assert "Traceback" not in err and "internal error" not in err
        assert not run.exists(), "a run directory was made"
        messages.append(lines[0])
    return messages


# -- `key=???` on the command line makes the key missing, as `???` in the file does ---------------------------------
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seed=???", "command line: seed: missing required value (an integer or null)"),
        ("data.kind=???", "command line: data.kind: missing: name a registered data source"),
        ("model.cell.hidden_size=???", "command line: model.cell.hidden_size: missing required value (an integer)"),
        ("trainer.max_epochs=???", "command line: trainer.max_epochs: missing required value"),
        ("callbacks.early_stopping.patience=???", "command line: callbacks.early_stopping.patience: missing required"),
        ("seed='???'", "command line: seed: missing required value"),  # quoted, as YAML reads it: the same string
        ("data={kind: '???', size: 10}", "command line: data.kind: missing: name a registered data source"),
    ],
)
def test_a_missing_value_on_the_command_line_replaces_the_recipe_s(capsys, tmp_path, override, expected):
    for message in refused(capsys, tmp_path, override):
        assert expected in message, message


def test_a_later_override_fills_a_key_an_earlier_one_left_missing(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "seed=???", "seed=7")
    assert code == 0, err
