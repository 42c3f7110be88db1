"""Hostile checkpoints. A tampered optimizer, scheduler, loop, callback, precision or data state given to ``resume=``
is one line naming the checkpoint and the field (exit 2), found before anything is trained or written. The data
paths a checkpoint's recipe names stay under $SEQKIT_DATA, and what is read from them is never quoted."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch
import yaml

from seqkit.state_shape import BadState, check
from tests.recipe_helpers import TINY, cli, train_tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("hostile-resume"), "trainer.max_epochs=2")


def _early(c):
    return next(v for k, v in c["callbacks"].items() if k.startswith("EarlyStopping"))


TAMPERS = {
    "lr": (lambda c: c["optimizer_states"][0]["param_groups"][0].update(lr="x"), "param_groups[0].lr"),
    "fused": (lambda c: c["optimizer_states"][0]["param_groups"][0].update(capturable=True), "capturable"),
    "params": (lambda c: c["optimizer_states"][0]["param_groups"][0].update(params=[0]), "params"),
    "exp_avg": (lambda c: c["optimizer_states"][0]["state"][0].update(exp_avg=torch.zeros(3)), "state[0].exp_avg"),
    "nan_state": (
        lambda c: c["optimizer_states"][0]["state"][1]["exp_avg_sq"].fill_(float("nan")),
        "state[1].exp_avg_sq",
    ),
    "index": (lambda c: c["optimizer_states"][0]["state"].update({999: {}}), "optimizer_states[0].state"),
    "two_optimizers": (lambda c: c["optimizer_states"].append({}), "optimizer_states"),
    "scheduler_lr": (lambda c: c["lr_schedulers"][0].update(_last_lr="x"), "lr_schedulers[0]._last_lr"),
    "scheduler_gone": (lambda c: c.update(lr_schedulers=[]), "lr_schedulers"),
    "early_score": (lambda c: _early(c).update(best_score="evil"), "best_score"),
    "early_patience": (lambda c: _early(c).update(patience=-3), "patience"),
    "loops": (lambda c: c["loops"]["fit_loop"]["epoch_progress"]["current"].update(completed="x"), "epoch_progress"),
    "loops_huge": (lambda c: c["loops"]["fit_loop"]["epoch_progress"]["total"].update(ready=2**70), "total.ready"),
    "data": (lambda c: c["SeqkitData"].update(epoch=[1]), "SeqkitData.epoch"),
    "data_key": (lambda c: c["SeqkitData"].update(evil=1), "SeqkitData"),
    "version": (lambda c: c.update({"pytorch-lightning_version": "0.0.1"}), "pytorch-lightning_version"),
    "version_type": (lambda c: c.update({"pytorch-lightning_version": 7}), "pytorch-lightning_version"),
    "precision": (lambda c: c.update(Precision="evil"), "Precision"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_a_tampered_training_state_is_named_before_anything_runs(trained, tmp_path, capsys, name):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    saved = torch.load(run / "last.ckpt", weights_only=True)
    tamper, field = TAMPERS[name]
    tamper(saved)
    torch.save(saved, run / "last.ckpt")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*"))
    code, _, err = cli(capsys, "train", trained / "recipe.yaml", f"run_dir={run}", "resume=last")
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "internal error" not in err and str(run / "last.ckpt") in lines[-1] and field in lines[-1], err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*")) == before  # nothing trained or written


def test_resuming_with_fewer_epochs_than_trained_says_what_to_set(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    saved = torch.load(run / "last.ckpt", weights_only=True)
    saved["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] = 7  # as after seven epochs
    torch.save(saved, run / "last.ckpt")
    code, _, err = cli(
        capsys, "train", trained / "recipe.yaml", f"run_dir={run}", "resume=last", "trainer.max_epochs=3"
    )
    assert code == 2 and "trained 7 epochs already" in err and "trainer.max_epochs=7" in err, err


def test_entries_lightning_does_not_need_are_dropped_and_the_run_resumes(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    saved = torch.load(run / "last.ckpt", weights_only=True)
    saved["hyper_parameters"] = {"anything": ["at", "all"]}
    saved["native_amp_scaling_state"] = {"scale": "x"}
    saved["callbacks"]["NoSuchCallback"] = {"path": str(tmp_path / "victim")}
    # keys a newer torch or Lightning might add are dropped (a scheduler would take "step" as an attribute, hiding
    # its method); keys an older one did not write take their fresh values
    saved["lr_schedulers"][0]["step"] = 5
    saved["optimizer_states"][0]["param_groups"][0]["param_names"] = ["a"] * 7
    del saved["optimizer_states"][0]["param_groups"][0]["decoupled_weight_decay"]
    del _early(saved)["stopping_reason"]
    torch.save(saved, run / "last.ckpt")
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    recipe["run_dir"] = str(run)
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    code, _, err = cli(capsys, "train", run / "recipe.yaml", "resume=last", "trainer.max_epochs=3")
    assert code == 0, err
    resumed = torch.load(run / "last.ckpt", weights_only=True)
    assert "hyper_parameters" not in resumed and "NoSuchCallback" not in resumed["callbacks"]
    assert (
        "step" not in resumed["lr_schedulers"][0]
        and "param_names" not in resumed["optimizer_states"][0]["param_groups"][0]
    )
    assert resumed["epoch"] == 2


@pytest.mark.parametrize(
    ("template", "value", "needle"),
    [
        ({"a": 1}, {"a": True}, "expected an integer"),
        ({"a": 1.0}, {"a": float("nan")}, "expected a number"),
        ({"a": 1.0}, {"a": float("inf")}, "finite"),
        ({"a": "max"}, {"a": "evil\x1b[31m"}, "expected 'max'"),
        ({"a": [1, 2]}, {"a": [1]}, "a list of 2"),
        ({"a": torch.zeros(2, 3)}, {"a": torch.zeros(3, 2)}, "shape (2, 3)"),
        ({"a": torch.tensor(float("inf"))}, {"a": torch.tensor(float("nan"))}, "a.a"),
    ],
)
def test_a_state_unlike_its_template_names_the_field(template, value, needle):
    with pytest.raises(BadState, match=None) as caught:
        check(template, value, "s")
    assert needle.replace("a.a", "s.a") in str(caught.value) and "\x1b" not in str(caught.value)


def test_a_state_like_its_template_passes():
    template = {"n": 0, "x": 1.0, "best": torch.tensor(float("inf")), "t": torch.zeros(2), "msg": None, "f": False}
    check(template, {"n": 5, "x": 3, "best": torch.tensor(0.5), "t": torch.ones(2), "msg": "stopped", "f": True}, "s")


SECRET = "text\tlabel\n" + "a fine film\tpositive\n" * 10 + "hello\tSECRET-LABEL-42\n"


def _evaluating(trained, tmp_path, path):
    saved = torch.load(trained / "best.ckpt", weights_only=True)
    split = {"valid": 0.1, "test": 0.5}
    saved["seqkit"]["recipe"]["data"] = {"kind": "table", "path": path, "batch_size": 4, "split": split}
    torch.save(saved, tmp_path / "chosen.ckpt")
    return tmp_path / "chosen.ckpt"


def test_a_file_the_checkpoint_chose_is_never_quoted(trained, tmp_path, capsys, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.tsv").write_text(SECRET)
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "data"))
    checkpoint = _evaluating(trained, tmp_path, "secret.tsv")
    code, out, err = cli(capsys, "eval", checkpoint)
    assert code == 2 and "SECRET" not in err + out and "withheld" in err and "secret.tsv" in err, err
    # typed on the command line, the same file is the user's choice: the message says what is wrong with it
    code, _, err = cli(capsys, "eval", checkpoint, "data.path=secret.tsv")
    assert code == 2 and "unknown label 'SECRET-LABEL-42'" in err, err


def test_a_path_outside_the_data_folder_is_read_only_when_typed(trained, tmp_path, capsys, monkeypatch):
    outside = tmp_path / "outside.tsv"
    outside.write_text(SECRET)
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "data"))
    checkpoint = _evaluating(trained, tmp_path, str(outside))
    code, out, err = cli(capsys, "eval", checkpoint)
    assert code == 2 and "SECRET" not in err + out and "relative paths" in err and "data.path=" in err, err
    code, _, err = cli(capsys, "eval", checkpoint, f"data.path={outside}")
    assert code == 2 and "SECRET-LABEL-42" in err, err  # read: the user asked for it


@pytest.mark.slow  # trains a run of its own (about 10 s)
def test_a_plugin_callbacks_state_is_its_own_and_its_failure_names_it(tmp_path, capsys, monkeypatch):
    import seqkit
    from tests.helpers import make_distribution

    source = (
        "import pytorch_lightning as pl\nimport seqkit\n\n\n"
        "class Counter(pl.Callback):\n"
        "    def state_dict(self):\n        return {'seen': 1}\n\n"
        "    def load_state_dict(self, state):\n        self.seen = int(state['seen'])\n\n\n"
        "class Patient(pl.callbacks.EarlyStopping):\n"
        "    def __init__(self):\n        super().__init__(monitor='val/loss', patience=9)\n\n\n"
        "@seqkit.hookimpl\ndef register_callbacks(register):\n"
        "    register(seqkit.Spec('counter', build=Counter))\n"
        "    register(seqkit.Spec('patient', build=Patient))\n"
    )
    make_distribution(tmp_path, "seqkit-counter", "1.0", {"counter": "seqkit_counter"}, {"seqkit_counter": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    seqkit.set_plugin_manager(None)
    run = tmp_path / "run"
    callbacks = ("callbacks.counter={}", "callbacks.patient={}")
    assert cli(capsys, "train", "quickstart", *TINY, *callbacks, f"run_dir={run}")[0] == 0
    pristine = torch.load(run / "last.ckpt", weights_only=True)
    saved = copy.deepcopy(pristine)
    saved["callbacks"]["Counter"] = {"seen": "evil"}
    torch.save(saved, run / "last.ckpt")
    code, _, err = cli(capsys, "train", run / "recipe.yaml", "resume=last", "trainer.max_epochs=2")
    assert code == 2 and "plugin 'counter'" in err and "internal error" not in err, err
    # a subclass of Lightning's EarlyStopping reads its state as Lightning does: checked as Lightning's is
    saved = copy.deepcopy(pristine)
    key = next(k for k in saved["callbacks"] if k.startswith("Patient"))
    saved["callbacks"][key]["best_score"] = "evil"
    torch.save(saved, run / "last.ckpt")
    code, _, err = cli(capsys, "train", run / "recipe.yaml", "resume=last", "trainer.max_epochs=2")
    assert code == 2 and "best_score is 'evil'" in err, err


def test_overwrite_never_clears_a_folder_that_holds_no_run(tmp_path, capsys):
    """A recipe from elsewhere may say ``run_dir: ~/project`` and ``overwrite: true``: seqkit's outputs are removed
    by name (logs/, recipe.yaml, ...), so a folder that is not a seqkit run is refused, not cleared."""
    project = tmp_path / "project"
    (project / "logs").mkdir(parents=True)
    (project / "logs" / "important.txt").write_text("keep me")
    (project / "recipe.yaml").write_text("my own notes\n")
    code, _, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={project}", "overwrite=true")
    assert code == 2 and "no seqkit run" in err, err
    assert (project / "logs" / "important.txt").read_text() == "keep me"
    assert (project / "recipe.yaml").read_text() == "my own notes\n"


def test_keys_are_those_of_the_template_unless_exact():
    assert check({"a": 1, "b": 2}, {"a": 5, "c": "dropped"}, "s") == {"a": 5, "b": 2}
    for value, needle in (({"a": 1, "b": 2, "c": 3}, "unknown key 'c'"), ({"a": 1}, "lacks the key 'b'")):
        with pytest.raises(BadState, match=needle):
            check({"a": 1, "b": 2}, value, "s", exact=True)
