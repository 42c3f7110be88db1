"""Issue 18's holes, one regression test each: tampered checkpoints, planted symlinks, resolver bypasses, bombs,
hostile servers, plugins that exit, finished run directories, NaN weights (see docs/security.md)."""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import pickle
import shutil
import tarfile
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

import seqkit
from seqkit.checkpoint_io import AtomicCheckpointIO, ConfinedCheckpoint, confined_state
from seqkit.data import DataError
from seqkit.download import downloads_forbidden, extracted, fetch
from seqkit.errors import SeqkitError
from tests.helpers import make_distribution
from tests.recipe_helpers import TINY, cli, quickstart, train_tiny


class Payload:
    """Unpickled, this creates the marker file: stands for any code a served pickle would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Server:
    """A local HTTP server (127.0.0.1 only) answering every GET with *handler(self)*; counts the requests."""

    def __init__(self, respond) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    respond(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self) -> Server:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _body(payload: bytes):
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    return respond


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run (two epochs, so Lightning's callback state records best and last paths)."""
    return train_tiny(tmp_path_factory.mktemp("security"), "trainer.max_epochs=2")


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the finished run, its recipe pointing at the copy, ready to be tampered with."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    recipe["run_dir"] = str(run)
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return run


def _tamper_callbacks(path: Path, value: str) -> None:
    saved = torch.load(path, weights_only=True)
    touched = 0
    for key, state in saved["callbacks"].items():
        if key.startswith("ModelCheckpoint"):
            state["best_model_path"] = value
            state["last_model_path"] = value
            state["best_k_models"] = {value: torch.tensor(0.1)}
            touched += 1
    assert touched == 2
    torch.save(saved, path)


def test_hole_1_a_url_in_callback_state_is_never_fetched(run_copy, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    buffer = io.BytesIO()
    torch.save({"state_dict": Payload(marker)}, buffer)
    with Server(_body(buffer.getvalue())) as server:
        _tamper_callbacks(run_copy / "last.ckpt", f"{server.url}/evil.ckpt")
        code, _, err = cli(capsys, "train", run_copy / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
        assert code == 0, err
        downloaded = torch.load(run_copy / "last.ckpt", weights_only=True)
    assert not marker.exists() and server.requests == []
    assert all(
        "://" not in str(state.get("best_model_path"))
        for key, state in downloaded["callbacks"].items()
        if key.startswith("ModelCheckpoint")
    )


def test_hole_2_a_path_outside_the_run_is_never_removed(run_copy, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    _tamper_callbacks(run_copy / "last.ckpt", f"{run_copy}/../victim")
    code, _, err = cli(capsys, "train", run_copy / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
    assert code == 0, err
    assert (victim / "precious.txt").read_text() == "keep me"


def test_confined_state_keeps_only_files_inside_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.ckpt").write_bytes(b"x")
    outside = tmp_path / "other.ckpt"
    outside.write_bytes(b"x")
    state = {
        "dirpath": str(run),
        "best_model_path": str(run / "best.ckpt"),
        "last_model_path": str(run / ".." / "other.ckpt"),
        "kth_best_model_path": "https://example.invalid/x.ckpt",
        "best_k_models": {str(run / "best.ckpt"): 1.0, str(outside): 2.0, str(run): 3.0},
        "best_model_score": 1.0,
    }
    kept = confined_state(state, run)
    assert kept["best_model_path"] == str(run / "best.ckpt")
    assert kept["last_model_path"] == "" and kept["kth_best_model_path"] == ""
    assert kept["best_k_models"] == {str(run / "best.ckpt"): 1.0}
    callback = ConfinedCheckpoint(dirpath=run)
    callback._remove_checkpoint(None, str(outside))  # outside: refused without reaching Lightning
    assert outside.exists()


def test_checkpoint_removal_is_confined_and_never_recursive(tmp_path):
    io_ = AtomicCheckpointIO(root=tmp_path / "run")
    (tmp_path / "run" / "sub").mkdir(parents=True)
    (tmp_path / "run" / "sub" / "keep").write_text("x")
    (tmp_path / "victim").mkdir()
    with pytest.raises(SeqkitError, match="outside the run directory"):
        io_.remove_checkpoint(tmp_path / "run" / ".." / "victim")
    with pytest.raises(SeqkitError, match="outside the run directory"):
        io_.remove_checkpoint("http://127.0.0.1:1/x.ckpt")
    with pytest.raises(SeqkitError, match="not a checkpoint file"):  # a folder inside: never removed recursively
        io_.remove_checkpoint(tmp_path / "run" / "sub")
    assert (tmp_path / "victim").is_dir() and (tmp_path / "run" / "sub" / "keep").exists()


def test_a_tampered_state_cannot_name_a_file_of_the_run_that_is_not_a_checkpoint(run_copy, capsys):
    """Lightning removes a replaced best model: a state naming the user's notes must not get them deleted."""
    notes = run_copy / "notes.txt"
    notes.write_text("my notes")
    _tamper_callbacks(run_copy / "last.ckpt", str(notes))
    code, _, err = cli(capsys, "train", run_copy / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
    assert code == 0, err
    assert notes.read_text() == "my notes" and (run_copy / "recipe.yaml").is_file()
    state = {"best_model_path": str(run_copy / "recipe.yaml"), "best_k_models": {str(notes): 1.0}}
    kept = confined_state(state, run_copy)
    assert kept["best_model_path"] == "" and kept["best_k_models"] == {}


def test_hole_3_planted_symlinks_are_never_followed(run_copy, tmp_path, capsys):
    targets = {}
    for name in ("last.ckpt", "best.ckpt", "recipe.yaml", "metrics.json"):
        target = tmp_path / f"outside-{name}"
        target.write_text("untouched")
        (run_copy / f".{name}.partial").symlink_to(target)
        targets[name] = target
    code, _, err = cli(capsys, "train", run_copy / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
    assert code == 2 and "is a symbolic link" in err, err  # refused before anything is written
    for name, target in targets.items():
        assert target.read_text() == "untouched", name
        assert not (run_copy / name).is_symlink(), name
    io_ = AtomicCheckpointIO(root=tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / ".x.ckpt.partial").symlink_to(targets["last.ckpt"])
    io_.save_checkpoint({"a": 1}, tmp_path / "fresh" / "x.ckpt")
    assert targets["last.ckpt"].read_text() == "untouched"
    assert torch.load(tmp_path / "fresh" / "x.ckpt", weights_only=True) == {"a": 1}


@pytest.mark.parametrize("planted", ["logs/csv/hparams.yaml", "logs"])
def test_a_link_planted_among_the_logs_is_refused_not_followed(run_copy, tmp_path, capsys, planted):
    """Lightning's CSV and TensorBoard loggers follow links: a resumed run must not write through one."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "hparams.yaml").write_text("untouched")
    link = run_copy / planted
    shutil.rmtree(link) if link.is_dir() else link.unlink()
    link.symlink_to(victim / "hparams.yaml" if planted.endswith(".yaml") else victim)
    code, _, err = cli(capsys, "train", run_copy / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
    assert code == 2 and f"{planted} is a symbolic link" in err, err
    assert (victim / "hparams.yaml").read_text() == "untouched" and sorted(os.listdir(victim)) == ["hparams.yaml"]


def test_hole_4_resolvers_are_refused_under_any_key_form(tmp_path, capsys, monkeypatch, trained):
    monkeypatch.setenv("SECRET", "hunter2")
    recipe = yaml.safe_load((trained / "recipe.yaml").read_text())
    del recipe["run_dir"]
    recipe["data"]["a.b"] = "${oc.env:SECRET}"
    recipe["data"][7] = "${oc.env:SECRET}"
    recipe["model"]["cell"]["x"] = ["${oc.env:SECRET}"]
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    code, out, err = cli(capsys, "train", path, f"run_dir={tmp_path / 'run'}")
    assert code == 2 and "hunter2" not in out + err and err.count("calls a resolver") == 3, err
    assert "data.a.b" in err and "data.7" in err and not (tmp_path / "run").exists()
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"]["data"]["a.b"] = "${oc.env:SECRET}"
    torch.save(saved, tmp_path / "t.ckpt")
    for command in (["predict", tmp_path / "t.ckpt", "good"], ["eval", tmp_path / "t.ckpt"]):
        code, out, err = cli(capsys, *command)
        assert code == 2 and "calls a resolver" in err and "hunter2" not in out + err, err


def test_hole_5_reference_bombs_end_quickly(tmp_path, capsys, trained):
    lines = ["a0: xxxxxxxxxx"] + [f'a{i}: "{("${a" + str(i - 1) + "}") * 10}"' for i in range(1, 14)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    code, _, err = cli(capsys, "validate", tmp_path / "bomb.yaml")
    assert code == 2 and "expand past" in err, err
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
    )
    (tmp_path / "laughs.yaml").write_text(laughs)
    code, _, err = cli(capsys, "validate", tmp_path / "laughs.yaml")
    assert code == 2 and "keys and items" in err, err
    shared: list = ["x"]
    for _ in range(60):
        shared = [shared, shared]  # 31 bytes a level pickled, 2**60 items expanded
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"]["data"]["extra"] = shared
    torch.save(saved, tmp_path / "shared.ckpt")
    code, _, err = cli(capsys, "predict", tmp_path / "shared.ckpt", "good")
    assert code == 2 and "not a recipe seqkit will read" in err, err
    assert time.monotonic() - started < 60  # each took minutes or forever before


def test_many_values_each_under_the_cap_are_a_bomb_together(tmp_path, capsys, trained):
    """Each value expands to 125,000 characters, under the per-value cap; 300 of them would be 37 million."""
    fan = {"a": [1] * 50, "b": ["${extra.a}"] * 50, "c": ["${extra.b}"] * 50, "d": ["${extra.c}"] * 300}
    recipe = yaml.safe_load((trained / "recipe.yaml").read_text())
    recipe["extra"] = fan
    (tmp_path / "fan.yaml").write_text(yaml.safe_dump(recipe))
    code, _, err = cli(capsys, "validate", tmp_path / "fan.yaml")
    assert code == 2 and err.count("characters in all") == 1, err
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"]["extra"] = fan  # the same inside a checkpoint from elsewhere
    torch.save(saved, tmp_path / "fan.ckpt")
    code, _, err = cli(capsys, "eval", tmp_path / "fan.ckpt")
    assert code == 2 and "characters in all" in err, err


def test_hole_6_downloads_are_capped_in_size_and_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))

    def endless(handler):
        handler.send_response(200)
        handler.end_headers()
        while True:
            handler.wfile.write(b"x" * 65536)

    def slow(handler):
        handler.send_response(200)
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.2)

    with Server(endless) as server:
        monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", "1000000")
        with pytest.raises(DataError, match="more than 1,000,000 bytes"):
            fetch(f"{server.url}/big.bin", None)
        assert not (tmp_path / "cache" / "big.bin.part").exists()
    with Server(slow) as server, pytest.raises(DataError, match="deadline"):
        fetch(f"{server.url}/slow.bin", None, deadline=1.0)
    with Server(_body(b"y" * 5000)) as server, pytest.raises(DataError, match="announces 5,000 bytes"):
        fetch(f"{server.url}/sized.bin", None, size=100)
    for name in ("..", "/etc/passwd", "a/../../b"):
        with pytest.raises(DataError, match="plain file name"):
            fetch("http://127.0.0.1:9/x", None, name)
    with Server(_body(b"z")) as server, downloads_forbidden("told not to"), pytest.raises(DataError, match="told not"):
        fetch(f"{server.url}/never.bin", None)
    assert server.requests == []


def _tar(path: Path, files: dict[str, bytes], link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def test_hole_6_extraction_follows_the_archive_and_refuses_links(tmp_path):
    target = tmp_path / "cache" / "x"
    old = _tar(tmp_path / "old.tar.gz", {"d/a.txt": b"old text\n"})
    assert (extracted(old, target, ["a.txt"]) / "a.txt").read_bytes() == b"old text\n"
    new = _tar(tmp_path / "new.tar.gz", {"d/a.txt": b"new text\n"})
    assert (extracted(new, target, ["a.txt"]) / "a.txt").read_bytes() == b"new text\n"  # not the stale one
    linked = _tar(tmp_path / "link.tar.gz", {}, link="a.txt")
    with pytest.raises(DataError, match="not a regular file"):
        extracted(linked, tmp_path / "cache" / "y", ["a.txt"])
    escaping = _tar(tmp_path / "up.tar.gz", {"../../a.txt": b"escape\n"})
    assert (extracted(escaping, tmp_path / "cache" / "z", ["a.txt"]) / "a.txt").is_file()
    assert not (tmp_path / "a.txt").exists()


def test_hole_6_eval_of_a_checkpoint_downloads_only_when_allowed(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))  # a checkpoint's data path is relative to it
    with Server(_body(b"not an archive")) as server:
        saved = torch.load(trained / "best.ckpt", weights_only=True)
        saved["seqkit"]["recipe"]["data"] = {
            "kind": "sentence_polarity",
            "path": "absent",
            "download": True,
            "url": f"{server.url}/data.tar.gz",
            "batch_size": 4,
        }
        torch.save(saved, tmp_path / "remote.ckpt")
        code, _, err = cli(capsys, "eval", tmp_path / "remote.ckpt")
        assert code == 2 and "--allow-download" in err and server.requests == [], err


def test_hole_7_a_plugin_that_exits_is_named(tmp_path, monkeypatch, capsys):
    make_distribution(
        tmp_path,
        "seqkit-quitter",
        "1.0",
        {"quitter": "seqkit_quitter"},
        {"seqkit_quitter": "import sys\nsys.exit(0)\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _out, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={tmp_path / 'run'}")
    assert code == 2 and "plugin 'quitter'" in err and "sys.exit(0)" in err, err
    assert not (tmp_path / "run").exists()


def test_hole_7_a_finished_run_dir_is_refused_unless_overwrite(run_copy, capsys):
    before = (run_copy / "best.ckpt").read_bytes()
    code, _, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={run_copy}")
    assert code == 2 and "already holds a finished run" in err and "overwrite=true" in err, err
    assert (run_copy / "best.ckpt").read_bytes() == before
    (run_copy / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={run_copy}", "overwrite=true")
    assert code == 0, err
    assert (run_copy / "notes.txt").read_text() == "mine"  # only seqkit's own outputs are replaced
    assert "overwrite" not in (run_copy / "recipe.yaml").read_text()


def test_hole_7_nan_weights_are_an_error(trained, tmp_path, capsys):
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    name = next(k for k, v in saved["state_dict"].items() if v.is_floating_point())
    saved["state_dict"][name] = torch.full_like(saved["state_dict"][name], float("nan"))
    torch.save(saved, tmp_path / "nan.ckpt")
    code, out, err = cli(capsys, "predict", tmp_path / "nan.ckpt", "good")
    assert code == 2 and "NaN" in err and out == "", err
    # a complex NaN too (loading it into a real weight would keep its NaN real part): refused for being complex
    saved["state_dict"][name] = torch.full(saved["state_dict"][name].shape, complex("nan+0j"), dtype=torch.complex64)
    torch.save(saved, tmp_path / "complex.ckpt")
    code, out, err = cli(capsys, "eval", tmp_path / "complex.ckpt")
    assert code == 2 and f"weight {name}: expected float32" in err and "got complex64" in err and out == "", err


def test_a_pickled_object_is_refused_without_torchs_unsafe_advice(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    with open(tmp_path / "x.ckpt", "wb") as stream:
        pickle.dump(Payload(marker), stream)
    for command in ("eval", "predict"):
        code, _, err = cli(capsys, command, tmp_path / "x.ckpt", *(["t"] if command == "predict" else []))
        assert code == 2 and "weights_only" not in err and not marker.exists(), err


def test_a_full_disk_or_file_size_limit_is_one_line_with_nothing_half_made(tmp_path, capsys):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # as `ulimit -f 4`: checkpoints cannot be written
    try:
        code, _, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={tmp_path / 'run'}")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert code == 2 and "ulimit -f" in err and "internal error" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_plugin_interrupt_or_exit_in_a_hook_is_named(tmp_path, monkeypatch, capsys):
    source = "import seqkit\n\n@seqkit.hookimpl\ndef register_cells(register):\n    raise {}\n"
    for name, raised, expect in (("exiter", "SystemExit(3)", "sys.exit(3)"), ("ctrlc", "KeyboardInterrupt", "")):
        folder = tmp_path / name
        folder.mkdir()
        modules = {f"seqkit_{name}": source.format(raised)}
        make_distribution(folder, f"seqkit-{name}", "1.0", {name: f"seqkit_{name}"}, modules)
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.setenv("SEQKIT_PLUGINS", name)
        code, _, err = cli(capsys, "validate", "quickstart")
        assert f"plugin '{name}'" in err and expect in err, err
        assert code == (130 if name == "ctrlc" else 2)


def test_a_callback_that_exits_mid_training_is_named_not_taken_for_ctrl_c(tmp_path, monkeypatch, capsys):
    source = (
        "import sys\nimport pytorch_lightning as pl\nimport seqkit\n\n\n"
        "class Quitter(pl.Callback):\n"
        "    def on_train_batch_end(self, *args):\n        sys.exit(0)\n\n\n"
        "@seqkit.hookimpl\ndef register_callbacks(register):\n"
        "    register(seqkit.Spec('quitter', build=Quitter))\n"
    )
    make_distribution(tmp_path, "seqkit-quitter", "1.0", {"quitter": "seqkit_quitter"}, {"seqkit_quitter": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    seqkit.set_plugin_manager(None)
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "callbacks.quitter={}", f"run_dir={tmp_path / 'run'}")
    assert code == 2 and "training ended by sys.exit(0) in module seqkit_quitter" in err, err
    assert "interrupted" not in err


def test_json_output_is_not_corrupted_by_plugin_prints(trained, tmp_path, monkeypatch, capsys):
    import json

    modules = {"seqkit_chatty": "print('hello from a plugin')\n"}
    make_distribution(tmp_path, "seqkit-chatty", "1.0", {"chatty": "seqkit_chatty"}, modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = cli(capsys, "predict", trained / "best.ckpt", "--json", "good", "bad")
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["good", "bad"]
    assert "hello from a plugin" in err


def test_plugin_text_is_escaped_when_listed(tmp_path, monkeypatch, capsys):
    make_distribution(tmp_path, "seqkit-weird\x1b[2J", "1.0", {"weird": "seqkit_weird"}, {"seqkit_weird": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    _code, out, err = cli(capsys, "plugins")
    assert "\x1b" not in out + err and "\\x1b" in out, out


def test_eval_of_a_gpu_checkpoint_runs_on_this_machine(trained, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has the GPU the checkpoint asks for")
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"]["trainer"]["accelerator"] = "gpu"
    torch.save(saved, tmp_path / "gpu.ckpt")
    code, out, err = cli(capsys, "eval", tmp_path / "gpu.ckpt")
    assert code == 0 and "accuracy" in out and "trainer.accelerator=gpu" in err, err


def test_a_long_field_is_data_not_an_error(tmp_path, capsys):
    rows = "".join(f"{'good' if i % 2 else 'bad'} film {i}\t{'positive' if i % 2 else 'negative'}\n" for i in range(40))
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + rows.replace("\t", ",") + "x" * 200_000 + ",positive\n")
    data = {"kind": "table", "path": str(path), "labels": ["negative", "positive"], "batch_size": 8}
    recipe = quickstart()
    recipe.update(data=data)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    code, _, err = cli(capsys, "train", tmp_path / "r.yaml", *TINY[1:], f"run_dir={tmp_path / 'run'}")
    assert code == 0, err


def test_a_closed_pipe_ends_predict_quietly(trained, tmp_path):
    import subprocess
    import sys

    texts = tmp_path / "in.txt"
    texts.write_text("good\n" * 2000)
    command = f"{sys.executable} -m seqkit predict {trained / 'best.ckpt'} --input {texts} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "error" not in done.stderr, done.stderr


def test_a_third_party_plugins_failure_is_named_not_an_internal_error(tmp_path, monkeypatch, capsys):
    source = """
        import seqkit

        def broken(**options):
            return {}["no such key"]

        @seqkit.hookimpl
        def register_datasets(register):
            register(seqkit.Spec("broken_source", build=broken))
        """
    make_distribution(tmp_path, "seqkit-flaky", "2.0", {"flaky": "seqkit_flaky"}, {"seqkit_flaky": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "data={kind: broken_source}", f"run_dir={tmp_path / 'r'}")
    assert code == 2 and "plugin 'flaky' (distribution seqkit-flaky 2.0)" in err and "KeyError" in err, err
    assert "internal error" not in err and not (tmp_path / "r").exists()
