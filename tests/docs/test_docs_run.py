"""Every shell command and Python snippet in the docs runs as written (the convention: CONTRIBUTING.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.doc_blocks import Block, blocks, documents, fill_placeholders, shell_script
from tests.helpers import ROOT

DOCUMENTS = documents()
TIMEOUT_S = 1800  # one block; the slow ones train models
SHOWN_OUTPUT_LINES = 40  # of a failing block's output, in the failure message


def _id(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _params(slow: bool) -> list:
    """The documents with a block to run: by default those with a quick one; in the slow run those with a slow one."""
    params = []
    for doc in DOCUMENTS:
        runnable = [b for b in blocks(doc) if b.runs]
        if slow and any(b.slow for b in runnable):
            params.append(pytest.param(doc, id=_id(doc), marks=pytest.mark.slow))
        elif not slow and any(not b.slow for b in runnable):
            params.append(pytest.param(doc, id=_id(doc)))
    return params


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_id)
def test_every_block_says_how_the_docs_test_treats_it(doc):
    problems = [f"{block.where}: {problem}" for block in blocks(doc) for problem in block.problems]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", _params(slow=False))
def test_doc_runs_as_written(doc, tmp_path, monkeypatch):
    _run_document(doc, tmp_path, monkeypatch, slow=False)


@pytest.mark.parametrize("doc", _params(slow=True))
def test_doc_runs_as_written_slow_blocks_included(doc, tmp_path, monkeypatch):
    _run_document(doc, tmp_path, monkeypatch, slow=True)


def _run_document(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, slow: bool) -> None:
    """Run *doc*'s blocks in order, in a fresh folder that links to the repository's top-level entries."""
    work = _working_folder(tmp_path)
    monkeypatch.chdir(work)
    env = _environment()
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(doc):
        if block.file:
            (work / block.file).write_text(block.text)
            continue
        if not block.runs or (block.slow and not slow):
            continue
        if block.needs_data and not (env.get("SEQKIT_DATA") and Path(env["SEQKIT_DATA"]).is_dir()):
            pytest.skip(f"{block.where} needs the corpora: SEQKIT_DATA does not name a folder")
        if block.language == "python":
            _run_python(block, namespace)
        else:
            _run_shell(block, work, env)


def _working_folder(tmp_path: Path) -> Path:
    """A fresh folder whose entries link to the repository's (not runs/ or hidden ones): docs name repository
    paths such as ``benchmarks/...`` and what the blocks write (``runs/``, result files) stays in the folder."""
    work = tmp_path / "work"
    work.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name != "runs" and not entry.name.endswith(".egg-info"):
            (work / entry.name).symlink_to(entry)
    return work


def _environment() -> dict[str, str]:
    """The test's environment, with this interpreter's ``bin`` (``seqkit``, ``python``) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _run_python(block: Block, namespace: dict) -> None:
    try:
        exec(compile(block.text, block.where, "exec"), namespace)
    except Exception as error:
        pytest.fail(f"{block.where}: the Python block raised {type(error).__name__}: {error}\n{block.text}")


def _run_shell(block: Block, work: Path, env: dict[str, str]) -> None:
    script = fill_placeholders(shell_script(block), work)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if done.returncode != block.exit_status:
        output = (done.stdout + done.stderr).splitlines()[-SHOWN_OUTPUT_LINES:]
        pytest.fail(
            f"{block.where}: exit status {done.returncode}, expected {block.exit_status}\n"
            f"--- the block ---\n{script}--- its output (last lines) ---\n" + "\n".join(output)
        )


CHECKED = """\
```bash
echo ran > ran.txt
```

```
no language
```

```console exit=3
$ echo shown && \\
  exit 3
output, not run
```

```bash no-test: x
pip install nothing
```

````text
```bash
inside a longer fence: not a block of its own
```
````

```yaml file=r.yaml slow quick
a: 1
```
"""


def test_the_checker_reads_info_strings_and_reports_what_is_wrong(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text(CHECKED)
    found = blocks(doc)
    assert [b.language for b in found] == ["bash", "", "console", "bash", "text", "yaml"]
    assert found[0].runs and not found[3].runs and not found[5].runs
    assert "needs a language" in found[1].problems[0]
    assert shell_script(found[2]) == "echo shown && \\\n  exit 3\n" and found[2].exit_status == 3
    assert "needs a reason" in found[3].problems[0] and found[3].skip_reason == "x"
    assert found[4].text.startswith("```bash")
    assert found[5].file == "r.yaml" and found[5].slow and "'quick'" in found[5].problems[0]


def test_a_block_that_fails_fails_the_page_and_says_where(tmp_path, monkeypatch):
    doc = tmp_path / "page.md"
    doc.write_text("```bash\necho fine\n```\n\n```bash\nls no-such-file\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"page.md:5: exit status 2, expected 0"):
        _run_document(doc, tmp_path, monkeypatch, slow=False)


def test_placeholders_stand_for_the_newest_run(tmp_path):
    for name in ("20261201-120000", "20261202-090000", "latest"):
        (tmp_path / "runs" / "quickstart" / name).mkdir(parents=True)
    script = "seqkit eval runs/quickstart/<timestamp>/best.ckpt runs/other/<timestamp>/x"
    filled = fill_placeholders(script, tmp_path)
    assert filled == "seqkit eval runs/quickstart/20261202-090000/best.ckpt runs/other/<timestamp>/x"
