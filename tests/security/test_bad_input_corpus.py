"""A corpus of bad recipes, data files, checkpoints and inputs, each run through the CLI.

Every case must end with its exit code (2 unless noted), a one-line message naming the file and line or
the key path and what was expected, no traceback, and nothing written: no run directory, no partial files.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import yaml

from seqkit.cli import main
from seqkit.errors import SeqkitError
from tests.recipe_helpers import TINY, quickstart, train_tiny

LABELS = "text\tlabel\nthe film was good\tpositive\nthe film was bad\tnegative\n"


@dataclass
class Case:
    id: str
    setup: Callable[[Path], list[str]]
    expect: list[str]  # regular expressions the error message must match
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)


def recipe(tmp: Path, changes: dict | None = None, drop: str | None = None, name: str = "r.yaml") -> Path:
    data = quickstart()
    data["data"]["size"] = 80
    for key, value in (changes or {}).items():
        node = data
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    if drop:
        del data[drop]
    path = tmp / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def text(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def train(*args: object) -> Callable[[Path], list[str]]:
    return lambda tmp: ["train", *(str(a(tmp)) if callable(a) else a for a in args), f"run_dir={tmp / 'run'}"]


def rec(changes: dict | None = None, drop: str | None = None) -> Callable[[Path], list[str]]:
    return train(lambda tmp: recipe(tmp, changes, drop))


def raw(yaml_text: str) -> Callable[[Path], list[str]]:
    return train(lambda tmp: text(tmp, "r.yaml", yaml_text))


def table(content: str | bytes, name: str = "d.tsv", **options) -> Callable[[Path], list[str]]:
    override, as_dir = options.pop("path_override", None), options.pop("path_dir", False)

    def setup(tmp: Path) -> list[str]:
        path = text(tmp, name, content)
        if override:
            path = tmp / override
        elif as_dir:
            path = tmp / "folder.tsv"
            path.mkdir()
        data = {"kind": "table", "path": str(path), "labels": ["negative", "positive"], "batch_size": 4, **options}
        data["split"] = {"valid": 0.3, "test": 0.0}
        return train(lambda t: recipe(t, {"data": data}))(tmp)

    return setup


def ckpt(mutate: Callable[[dict, Path], object], command: str = "eval") -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        saved = torch.load(CHECKPOINT, weights_only=True)
        path = tmp / "bad.ckpt"
        result = mutate(saved, path)
        if result is None:
            torch.save(saved, path)
        return [command, str(path), *(["some text"] if command == "predict" else [])]

    return setup


def _enlarged_behind_an_expanded_tensor(saved: dict, path: Path) -> None:
    saved["seqkit"]["recipe"]["model"]["cell"].update(hidden_size=65536, num_layers=1024)
    saved["state_dict"]["huge"] = torch.zeros(1).expand(10**7, 10**7)  # 4 bytes on disk, 10¹⁴ elements


def truncated(saved: dict, path: Path) -> bool:
    path.write_bytes(CHECKPOINT.read_bytes()[: CHECKPOINT.stat().st_size // 2])
    return True


class Payload:
    """Unpickling this would create the marker file: a checkpoint crafted to run code."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def malicious(saved: dict, path: Path) -> bool:
    saved["seqkit"]["evil"] = Payload()
    torch.save(saved, path)
    return True


def _data_path(choose: Callable[[Path], object]) -> Callable[[dict, Path], None]:
    """The checkpoint's recipe reads a table at *choose(checkpoint path)*: a path the checkpoint chose."""

    def mutate(saved: dict, path: Path) -> None:
        text(path.parent, "d.tsv", LABELS)
        split = {"valid": 0.3, "test": 0.3}
        saved["seqkit"]["recipe"]["data"] = {"kind": "table", "path": choose(path), "batch_size": 4, "split": split}

    return mutate


def _polarity_url(url: str) -> Callable[[dict, Path], None]:
    def mutate(saved: dict, path: Path) -> None:
        data = {"kind": "sentence_polarity", "path": "absent", "download": True, "url": url, "sha256": "0" * 64}
        saved["seqkit"]["recipe"]["data"] = {**data, "batch_size": 4}

    return mutate


def _resume(mutate: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    """``train ... resume=`` a copy of the corpus checkpoint with its training state tampered by *mutate*."""

    def setup(tmp: Path) -> list[str]:
        saved = torch.load(CHECKPOINT, weights_only=True)
        mutate(saved)
        torch.save(saved, tmp / "bad.ckpt")
        return ["train", "quickstart", *TINY, "data.size=80", f"resume={tmp / 'bad.ckpt'}", f"run_dir={tmp / 'run'}"]

    return setup


def _tampered_lr(saved: dict) -> None:
    saved["optimizer_states"][0]["param_groups"][0]["lr"] = "0.1"


def _tampered_loops(saved: dict) -> None:
    saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["ready"] = -1


def _run_dir(tmp: Path, where: object) -> list[str]:
    return ["train", str(recipe(tmp)), f"run_dir={where}"]


def _dangling(tmp: Path) -> Path:
    link = tmp / "dangling"
    link.symlink_to(tmp / "nowhere")
    return link


def _hostile_plugin(saved: dict, path: Path) -> None:
    saved["seqkit"]["plugins"] = [
        {
            "name": "gru\x1b[31m\nseqkit eval: ok",
            "distribution": "x'; rm -rf ~; echo '",
            "version": "1",
            "registers": {"cells": ["gru"]},
        }
    ]


def _nan_weights(saved: dict, path: Path) -> None:
    for value in saved["state_dict"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))


WEIGHT = "model.encoder.weight_hh_l0"


def _weight(make: Callable[[torch.Tensor], object]) -> Callable[[dict, Path], None]:
    """The checkpoint's recurrent weight replaced by *make(it)*: another dtype, a tensor of no data, or no tensor."""

    def mutate(saved: dict, path: Path) -> None:
        saved["state_dict"][WEIGHT] = make(saved["state_dict"][WEIGHT])

    return mutate


def _stdin_closed(argv: list[str]) -> list[str]:
    sys.stdin = None  # as after `<&-`; the test's monkeypatch puts it back
    return argv


CHECKPOINT: Path = Path()
MARKER: Path = Path()
TEN_MB = "x" * (10 * 1024 * 1024)

CASES = [
    # --- recipes: syntax, structure, names, types, ranges, combinations, files ---
    Case(
        "yaml-syntax", raw("seed: 1\ndata: {kind: synthetic_sentiment\n"), [r"r\.yaml:\d+", "YAML|yaml|parse|expected"]
    ),
    Case("yaml-tab-indent", raw("seed: 1\ndata:\n\tkind: x\n"), [r"r\.yaml:\d+"]),
    Case("yaml-not-a-mapping", raw("- a\n- b\n"), [r"r\.yaml", "mapping"]),
    Case("yaml-empty", raw(""), [r"r\.yaml", "missing section"]),
    Case("yaml-python-tag", raw("seed: !!python/object/apply:os.getcwd []\n"), [r"r\.yaml:1", "not valid YAML"]),
    Case("resolver-call", rec({"data.size": "${oc.env:HOME}"}), [r"data\.size", "calls a resolver"]),
    Case("unknown-section", rec({"trainr": {"max_epochs": 1}}), [r"r\.yaml:\d+: trainr", "did you mean 'trainer'"]),
    Case(
        "unknown-data-kind",
        rec({"data.kind": "synthetic_sentimnt"}),
        [r"r\.yaml:\d+: data\.kind", "synthetic_sentiment"],
    ),
    Case("unknown-cell-kind", rec({"model.cell.kind": "gruu"}), [r"model\.cell\.kind", "gru"]),
    Case("unknown-tokenizer", rec({"tokenizer.kind": "wrod"}), [r"tokenizer\.kind", "word"]),
    Case("unknown-task", rec({"task.kind": "sentimant"}), [r"task\.kind", "sentiment"]),
    Case("unknown-cell-option", rec({"model.cell.hidden_sise": 4}), [r"model\.cell\.hidden_sise", "hidden_size"]),
    Case("unknown-callback", rec({"callbacks.early_stoping": {}}), [r"callbacks\.early_stoping", "early_stopping"]),
    Case("wrong-type-hidden", rec({"model.cell.hidden_size": "big"}), [r"model\.cell\.hidden_size", "int"]),
    Case("wrong-type-batch", rec({"data.batch_size": 1.5}), [r"data\.batch_size", "int"]),
    Case("wrong-type-bool", rec({"model.cell.bidirectional": "sometimes"}), [r"model\.cell\.bidirectional"]),
    Case("wrong-type-section", rec({"optim": [1, 2]}), [r"optim", "mapping"]),
    Case("negative-hidden", rec({"model.cell.hidden_size": -4}), [r"model\.cell\.hidden_size", "-4"]),
    Case("zero-batch", rec({"data.batch_size": 0}), [r"data\.batch_size", "0"]),
    Case("negative-embed", rec({"model.embed_dim": -1}), [r"model\.embed_dim", "-1"]),
    Case("zero-layers", rec({"model.cell.num_layers": 0}), [r"model\.cell\.num_layers"]),
    Case("dropout-above-one", rec({"model.cell.dropout": 1.5}), [r"model\.cell\.dropout", "1.5"]),
    Case("negative-lr", rec({"optim.lr": -1.0}), [r"optim\.lr", "-1"]),
    Case("split-too-large", rec({"data.split": {"valid": 0.6, "test": 0.5}}), [r"data\.split", r"valid \+ test"]),
    Case("trainer-owned-key", rec({"trainer.logger": False}), [r"trainer\.logger", "not settable"]),
    Case("trainer-wrong-type", rec({"trainer.max_epochs": "many"}), [r"trainer\.max_epochs"]),
    Case("missing-section", rec(drop="model"), [r"model", "missing section"]),
    Case("missing-value", rec({"model.cell.hidden_size": "???"}), [r"model\.cell\.hidden_size", "missing"]),
    Case("bad-interpolation", rec({"model.embed_dim": "${nope}"}), [r"model\.embed_dim|nope"]),
    Case("nesterov-without-momentum", rec({"optim.kind": "sgd", "optim.nesterov": True}), [r"optim\.nesterov"]),
    Case("monitor-not-logged", rec({"monitor": "val/bleu"}), [r"monitor", "val/loss"]),
    Case("option-of-another-cell", rec({"model.cell.kind": "lstm", "model.cell.reset_after": False}), ["reset_after"]),
    Case("checkpoint-every-negative", rec({"checkpoint_every_n_steps": -1}), [r"checkpoint_every_n_steps", ">= 0"]),
    Case("on-nonfinite-unknown", rec({"on_nonfinite": "ignore"}), [r"on_nonfinite", "stop or skip_batch"]),
    Case("override-unknown-path", train(lambda t: recipe(t), "model.cel.hidden_size=3"), [r"model\.cel"]),
    Case("override-without-equals", train(lambda t: recipe(t), "model.cell.hidden_size"), ["key=value|="]),
    Case("recipe-missing", train("no/such/recipe.yaml"), ["no/such/recipe.yaml"]),
    Case("recipe-is-a-directory", train(lambda t: t), ["directory|not a recipe|recipe"]),
    Case("resume-missing-checkpoint", rec({"resume": "nowhere.ckpt"}), ["nowhere.ckpt not found"]),
    Case(
        "resume-last-without-run",
        train(lambda t: recipe(t, {"resume": "last"}, name="fresh.yaml")),
        ["no last.ckpt in run_dir"],
    ),
    # --- data files (the generic table source; lines_per_label) ---
    Case("data-missing-file", table(LABELS, path_override="missing.tsv"), [r"missing\.tsv", "not found"]),
    Case("data-directory", table(LABELS, path_dir=True), ["expected a data file, found a directory"]),
    Case("data-empty-file", table(""), [r"d\.tsv", "empty file"]),
    Case("data-header-only", table("text\tlabel\n"), [r"d\.tsv", "no records"]),
    Case("data-wrong-columns", table(LABELS + "one\ttwo\tthree\n"), [r"d\.tsv:4", "expected 2 columns"]),
    Case(
        "data-undecodable", table(LABELS.encode() + b"caf\xe9 ok\tpositive\n"), [r"d\.tsv:4", "cannot decode byte 0xe9"]
    ),
    Case("data-unknown-label", table(LABELS + "meh\tneutral\n"), [r"d\.tsv:4", "unknown label 'neutral'"]),
    Case("data-empty-line", table(LABELS + "\nmore\tpositive\n"), [r"d\.tsv:4", "empty line"]),
    Case("data-whitespace-line", table(LABELS + "   \t \nmore\tpositive\n"), [r"d\.tsv:4", "empty"]),
    Case("data-empty-field", table(LABELS + " \tpositive\n"), [r"d\.tsv:4", "empty or not text"]),
    Case("data-10mb-line", table(LABELS + TEN_MB + "\tpositive\n"), [r"d\.tsv:4", "longer than"]),
    Case(
        "data-bad-json",
        table('{"text": "a", "label": "positive"}\n{"text": \n', name="d.jsonl"),
        [r"d\.jsonl:2", "JSON"],
    ),
    Case("data-json-not-object", table('["a", "positive"]\n', name="d.jsonl"), [r"d\.jsonl:1", "JSON object"]),
    Case("data-missing-column", table(LABELS, label_field="polarity"), [r"d\.tsv:2", "no column 'polarity'"]),
    Case("data-unknown-format", table(LABELS, name="d.txt"), [r"d\.txt", "format"]),
    Case("data-corrupt-gzip", table(b"not gzip at all", name="d.tsv.gz"), [r"d\.tsv\.gz", "cannot read"]),
    Case("data-pairs-one-side", table(LABELS, source_field="text"), [r"d\.tsv", "source_field and target_field"]),
    Case(
        "data-pairs-missing-target",  # source/target counts differ: a row without its target
        table("source\ttarget\nein\tone\nzwei\n", source_field="source", target_field="target"),
        [r"d\.tsv:3", "expected 2 columns"],
    ),
    Case(
        "data-lines-per-label-empty",
        train(
            lambda t: recipe(
                t,
                {
                    "data": {
                        "kind": "lines_per_label",
                        "files": {
                            "positive": str(text(t, "pos.txt", "good\n")),
                            "negative": str(text(t, "neg.txt", "")),
                        },
                    }
                },
            )
        ),
        [r"neg\.txt", "empty file"],
    ),
    # --- checkpoints ---
    Case("ckpt-missing", lambda t: ["eval", str(t / "none.ckpt")], [r"none\.ckpt not found"]),
    Case("ckpt-directory", lambda t: ["eval", str(t)], ["not found|directory"]),
    Case("ckpt-truncated", ckpt(truncated), [r"bad\.ckpt", "not a readable seqkit checkpoint"]),
    Case("ckpt-junk", ckpt(lambda s, p: p.write_bytes(b"PK\x03\x04junk")), [r"bad\.ckpt", "not a readable"]),
    Case(
        "ckpt-plain-torch",
        ckpt(lambda s, p: torch.save({"state_dict": {}}, p) or 1),
        [r"bad\.ckpt", "not a seqkit checkpoint"],
    ),
    Case("ckpt-code-on-load", ckpt(malicious), [r"bad\.ckpt", "not a readable seqkit checkpoint"]),
    Case("ckpt-code-on-load-predict", ckpt(malicious, "predict"), [r"bad\.ckpt", "not a readable"]),
    Case(
        "ckpt-wrong-task",
        ckpt(lambda s, p: s["seqkit"]["recipe"]["task"].update(kind="translation")),
        ["task", "translation"],
    ),
    Case(
        "ckpt-missing-plugin",
        ckpt(lambda s, p: None),
        [r"bad\.ckpt", "plugin", "gru"],
        env={"SEQKIT_DISABLE_PLUGINS": "gru"},
    ),
    Case(
        "ckpt-wrong-shapes",
        lambda t: ["eval", str(CHECKPOINT), "model.embed_dim=16"],
        ["did an override change its size"],
    ),
    # --- predict inputs ---
    Case("predict-input-missing", lambda t: ["predict", str(CHECKPOINT), "--input", str(t / "no.txt")], [r"no\.txt"]),
    Case("predict-input-directory", lambda t: ["predict", str(CHECKPOINT), "--input", str(t)], ["directory"]),
    Case(
        "predict-input-undecodable",
        lambda t: ["predict", str(CHECKPOINT), "--input", str(text(t, "in.txt", b"ok\n\xff\n"))],
        [r"in\.txt:2", "0xff"],
    ),
    # --- issue 18, item 8: user and environment errors that were "internal error" ---
    Case("run-dir-is-a-file", lambda t: _run_dir(t, text(t, "afile", "x")), ["run_dir", "not a directory"]),
    Case("run-dir-dangling-symlink", lambda t: _run_dir(t, _dangling(t)), ["run_dir", "symbolic link to nothing"]),
    Case("run-dir-name-too-long", lambda t: _run_dir(t, t / ("n" * 300)), ["run_dir", "over 255 bytes"]),
    Case("run-dir-nul-byte-override", lambda t: _run_dir(t, f"{t}/a\0b"), ["run_dir", "control characters"]),
    Case(
        "run-dir-nul-byte",
        lambda t: ["train", str(recipe(t, {"run_dir": f"{t}/a\0b"}))],
        [r"r\.yaml:\d+: run_dir", "control characters"],
    ),
    Case("encoding-unknown", table(LABELS, encoding="klingon"), [r"d\.tsv", "unknown encoding 'klingon'"]),
    Case("encoding-not-text", table(LABELS, encoding="rot13"), [r"d\.tsv", "cannot be read a line at a time"]),
    Case("data-utf16", table(LABELS.encode("utf-16")), [r"d\.tsv:1", "UTF-16"]),
    Case("data-cr-only-lines", table(LABELS.replace("\n", "\r")), [r"d\.tsv:1", "carriage return"]),
    Case(
        "data-json-nested-deep",
        table('{"text": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "positive"}\n', name="d.jsonl"),
        [r"d\.jsonl:1", "nested too deeply"],
    ),
    Case("recipe-nested-deep", raw("seed: 1\ndata: " + "[" * 100 + "]" * 100 + "\n"), [r"r\.yaml", "nested more"]),
    Case(
        "recipe-nested-100k", raw("seed: 1\ndata: " + "[" * 100_000 + "]" * 100_000 + "\n"), [r"r\.yaml", "too deeply"]
    ),
    Case("override-nested-100k", train(lambda t: recipe(t), "data=" + "[" * 100_000), ["command line", "data"]),
    Case("recipe-over-1mib", raw("seed: 1\n" + "# padding\n" * 120_000), [r"r\.yaml", "at most"]),
    Case("num-workers-fork-bomb", rec({"data.num_workers": 100_000}), [r"data\.num_workers", "256"]),
    Case("recipe-5000-digits", raw("seed: " + "9" * 5000 + "\n"), [r"r\.yaml:1", "digits"]),
    Case("override-5000-digits", train(lambda t: recipe(t), "seed=" + "9" * 5000), ["command line", "seed"]),
    Case("seed-negative", rec({"seed": -5}), [r"seed", "-5"]),
    Case("max-epochs-zero", rec({"trainer.max_epochs": 0}), [r"trainer\.max_epochs", "at least 1"]),
    Case("max-epochs-minus-two", rec({"trainer.max_epochs": -2}), [r"trainer\.max_epochs", "-2"]),
    Case("clip-nan", rec({"trainer.gradient_clip_val": float("nan")}), [r"trainer\.gradient_clip_val", "finite"]),
    Case("hidden-2-31", rec({"model.cell.hidden_size": 2**31}), [r"model\.cell\.hidden_size", "2147483648"]),
    Case(
        "ckpt-plugin-name-hostile",
        ckpt(_hostile_plugin),
        [r"bad\.ckpt", r"\\x1b", "not a valid package name"],
        env={"SEQKIT_DISABLE_PLUGINS": "gru"},
    ),
    Case("ckpt-nan-weights", ckpt(_nan_weights, "predict"), [r"bad\.ckpt", "NaN"]),
    Case(
        "ckpt-recipe-resolver",
        ckpt(lambda s, p: s["seqkit"]["recipe"]["data"].update({"a.b": "${oc.env:HOME}"}), "predict"),
        [r"data\.a\.b", "calls a resolver"],
    ),
    Case(
        "ckpt-not-a-checkpoint-pickle",
        ckpt(lambda s, p: p.write_bytes(pickle.dumps(Payload())) or 1, "predict"),
        [r"bad\.ckpt", "never loads"],
    ),
    Case("predict-stdin-closed", lambda t: _stdin_closed(["predict", str(CHECKPOINT), "--input", "-"]), ["closed"]),
    Case(
        "predict-input-10mb-line",
        lambda t: ["predict", str(CHECKPOINT), "--input", str(text(t, "in.txt", TEN_MB + "\n"))],
        [r"in\.txt:1", "longer than"],
    ),
    Case("ckpt-data-path-absolute", ckpt(_data_path(lambda p: str(p.parent / "d.tsv"))), [r"bad\.ckpt", "relative"]),
    Case("ckpt-data-path-parent", ckpt(_data_path(lambda p: "../../d.tsv")), [r"bad\.ckpt", r"'\.\./\.\./d\.tsv'"]),
    Case("ckpt-data-path-home", ckpt(_data_path(lambda p: "~/.ssh/id_rsa")), [r"bad\.ckpt", "command line"]),
    Case(
        "ckpt-data-paths-split",
        ckpt(_data_path(lambda p: {"test": "/etc/passwd", "train": "ok.tsv"})),
        [r"bad\.ckpt", "/etc/passwd"],
    ),
    Case(
        "ckpt-url-not-http",
        lambda t: [*ckpt(_polarity_url("file:///dev/zero"))(t), "--allow-download"],
        [r"bad\.ckpt", "file:///dev/zero", "https://"],
        env={"SEQKIT_CACHE": "cache"},
    ),
    Case(
        "ckpt-model-far-larger-than-its-weights",
        ckpt(lambda s, p: s["seqkit"]["recipe"]["model"]["cell"].update(hidden_size=65536, num_layers=1024), "predict"),
        [r"bad\.ckpt", "weights", "tampered"],
    ),
    Case(
        "ckpt-model-far-larger-than-its-weights-with-an-expanded-tensor",
        ckpt(_enlarged_behind_an_expanded_tensor),
        [r"bad\.ckpt", "weights", "tampered"],
    ),
    Case(
        "ckpt-plugin-registers-a-list",
        ckpt(lambda s, p: s["seqkit"].update(plugins=[{"name": "gone", "registers": ["tasks"]}]), "predict"),
        [r"bad\.ckpt", r"plugins\[0\]\.registers"],
    ),
    Case(
        "ckpt-plugin-registers-an-int",
        ckpt(lambda s, p: s["seqkit"].update(plugins=[{"name": "gone", "registers": {"tasks": 5}}])),
        [r"bad\.ckpt", r"plugins\[0\]\.registers"],
    ),
    Case(
        "ckpt-trainer-accelerator-a-list",
        ckpt(lambda s, p: s["seqkit"]["recipe"]["trainer"].update(accelerator=["cpu"])),
        [r"bad\.ckpt", r"trainer\.accelerator", "list"],
    ),
    Case(
        "ckpt-synthetic-data-of-a-trillion-examples",
        ckpt(lambda s, p: s["seqkit"]["recipe"]["data"].update(size=10**12)),
        [r"data\.size", "1,000,000"],
    ),
    *(
        Case(f"env-{name.lower()}-not-a-number", rec(), [f"{name}='{value}'", "whole number"], env={name: value})
        for name, value in (("RANK", "abc"), ("LOCAL_RANK", "x"), ("NODE_RANK", "z"), ("SLURM_NTASKS", "two"))
    ),
    Case("callback-rejects-its-option", train(recipe, "callbacks.ema.decay=2"), [r"callbacks\.ema", "decay"]),
    Case("env-threads-100000", rec(), [r"SEQKIT_THREADS='100000'", "4096"], env={"SEQKIT_THREADS": "100000"}),
    Case(
        "env-omp-threads-20-digits",
        rec(),
        [r"OMP_NUM_THREADS='9{20}'", "4096"],
        env={"OMP_NUM_THREADS": "9" * 20},
    ),
    Case(
        "ckpt-weight-name-100k",
        ckpt(lambda s, p: s["state_dict"].update({"x" * 100_000: torch.zeros(1)})),
        [r"bad\.ckpt", r"unexpected \['x{50}.{0,300}$"],
    ),
    Case(
        "ckpt-weight-int8",
        ckpt(_weight(lambda w: w.to(torch.int8)), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got int8 \(\d+, \d+\)$"],
    ),
    Case(
        "ckpt-weight-uint8-predict",
        ckpt(_weight(lambda w: w.to(torch.uint8)), "predict"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got uint8 \(\d+, \d+\)$"],
    ),
    Case(
        "ckpt-weight-bool",
        ckpt(_weight(lambda w: w > 0), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got bool \(\d+, \d+\)$"],
    ),
    Case(
        "ckpt-weight-complex",
        ckpt(_weight(lambda w: w.to(torch.complex64)), "predict"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got complex64 \(\d+, \d+\)$"],
    ),
    Case(
        "ckpt-weight-float64",
        ckpt(_weight(lambda w: w.double()), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got float64 \(\d+, \d+\)$"],
    ),
    Case(
        "ckpt-weight-sparse",
        ckpt(_weight(lambda w: w.to_sparse()), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got a sparse_coo tensor$"],
    ),
    Case(
        "ckpt-weight-meta",
        ckpt(_weight(lambda w: torch.empty(w.shape, device="meta")), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got a meta tensor \(no data\)$"],
    ),
    Case(
        "ckpt-weight-text",
        ckpt(_weight(lambda w: "0.5"), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got a str$"],
    ),
    Case(
        "ckpt-weight-none",
        ckpt(_weight(lambda w: None), "predict"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got None$"],
    ),
    Case(
        "ckpt-weight-list",
        ckpt(_weight(lambda w: w.tolist()), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got a list of \d+$"],
    ),
    Case(
        "ckpt-weight-mapping",
        ckpt(_weight(lambda w: {"w": w}), "eval"),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got a dict of 1$"],
    ),
    Case(
        "resume-weight-int8",
        _resume(lambda s: _weight(lambda w: w.to(torch.int8))(s, Path())),
        [r"bad\.ckpt", rf"weight {WEIGHT}: expected float32 \(\d+, \d+\), got int8"],
    ),
    Case("resume-tampered-optimizer", _resume(_tampered_lr), [r"bad\.ckpt", r"param_groups\[0\]\.lr"]),
    Case("resume-tampered-loops", _resume(_tampered_loops), [r"bad\.ckpt", r"loops\.fit_loop"]),
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    global CHECKPOINT
    CHECKPOINT = train_tiny(tmp_path_factory.mktemp("corpus"), "data.size=80") / "best.ckpt"
    return CHECKPOINT


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, checkpoint, tmp_path, monkeypatch, capsys):
    global MARKER
    MARKER = tmp_path.parent / f"{tmp_path.name}-PWNED"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", sys.stdin)
    argv = case.setup(tmp_path)
    before = _files(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, f"exit {code}: {err}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err  # one error (a recipe's several problems follow it, one a line)
    message = err[err.index(lines[0]) :]
    for pattern in case.expect:
        assert re.search(pattern, message), f"{pattern!r} not in: {message}"
    assert not (tmp_path / "run").exists(), "a run directory was left behind"
    assert _files(tmp_path) == before, "files were written"
    assert not MARKER.exists(), "the checkpoint ran code"


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(SeqkitError, match="none.ckpt not found"):
        main(["--debug", "eval", str(tmp_path / "none.ckpt")])


def test_an_internal_error_is_one_line_without_debug(capsys, monkeypatch):
    import seqkit.cli.validate

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(seqkit.cli.validate, "_validate", broken)
    code = main(["validate", "quickstart"])
    err = capsys.readouterr().err
    assert code == 1 and "internal error: ZeroDivisionError: division by zero" in err and "--debug" in err
    assert "Traceback" not in err
