"""A plugin's odd failures are named like any other: GeneratorExit or another BaseException from its code, an
exception whose message cannot be shown; and what it writes to file descriptor 1 never corrupts ``--json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import make_distribution
from tests.recipe_helpers import cli

HOOK = "import seqkit\n\n{prelude}\n@seqkit.hookimpl\ndef register_cells(register):\n    {body}\n"
UNSHOWABLE = "class Odd(Exception):\n    def __str__(self):\n        raise ValueError('no message for you')\n"
STRANGE = "class Strange(BaseException):\n    pass\n"


def _install(tmp_path, monkeypatch, name: str, source: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    make_distribution(folder, f"seqkit-{name}", "1.0", {name: f"seqkit_{name}"}, {f"seqkit_{name}": source})
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("SEQKIT_PLUGINS", name)


@pytest.mark.parametrize(
    ("prelude", "body", "where"),
    [
        ("", "raise GeneratorExit", "register_cells"),
        (UNSHOWABLE, "raise Odd()", "register_cells"),
        (STRANGE, "raise Strange('odd')", "register_cells"),
        ("raise GeneratorExit\n", "pass", "import"),
        (UNSHOWABLE + "raise Odd()\n", "pass", "import"),
    ],
    ids=["hook-generator-exit", "hook-unshowable", "hook-base-exception", "import-generator-exit", "import-unshowable"],
)
def test_an_odd_failure_in_a_plugin_is_named(tmp_path, monkeypatch, capsys, request, prelude, body, where):
    name = "odd" + request.node.callspec.id.replace("-", "")  # a module name of its own: none is cached
    _install(tmp_path, monkeypatch, name, HOOK.format(prelude=prelude, body=body))
    code, out, err = cli(capsys, "validate", "quickstart")
    assert code == 2 and f"plugin '{name}'" in err and where in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out and "internal error" not in err


def test_an_unshowable_error_at_the_top_is_one_line(monkeypatch, capsys):
    import seqkit.cli.validate

    class Odd(Exception):
        def __str__(self):
            raise ValueError("no")

    def broken(args):
        raise Odd()

    monkeypatch.setattr(seqkit.cli.validate, "_validate", broken)
    code, _, err = cli(capsys, "validate", "quickstart")
    assert code == 1 and "internal error: Odd" in err and len(err.strip().splitlines()) == 1, err


def test_json_stays_clean_when_a_plugin_writes_to_descriptor_1(tmp_path):
    source = "import os\nos.write(1, b'garbage from a plugin\\n')\nprint('and a print')\n"
    make_distribution(tmp_path, "seqkit-noisy", "1.0", {"noisy": "seqkit_noisy"}, {"seqkit_noisy": source})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("SEQKIT_PLUGINS", None)
    env.pop("SEQKIT_DISABLE_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "seqkit", "plugins", "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "noisy" in [entry["name"] for entry in json.loads(done.stdout)]
    assert "garbage from a plugin" in done.stderr and "and a print" in done.stderr


def test_data_ls_json_stays_clean_when_a_plugin_prints(tmp_path, monkeypatch, capsys):
    _install(tmp_path, monkeypatch, "chatter", "print('hello from a plugin')\n")
    monkeypatch.delenv("SEQKIT_PLUGINS")  # the data sources' plugins too
    code, out, err = cli(capsys, "data", "ls", "--json")
    assert code == 0 and isinstance(json.loads(out), list) and "hello from a plugin" in err, err
