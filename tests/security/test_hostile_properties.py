"""Property-based tests (hypothesis) with hostile input: any recipe text and any value in a checkpoint's known
fields end in a result or a one-line SeqkitError, never another exception, and never keep a path outside the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit.checkpoint import load
from seqkit.checkpoint_io import PATH_FIELDS, confined_state, inside
from seqkit.errors import SeqkitError
from seqkit.recipes import load_recipe
from tests.recipe_helpers import train_tiny

# the same examples on every run unless HYPOTHESIS_PROFILE=explore (tests/conftest.py)
QUICK = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# Text an attacker would try: interpolations, resolvers, paths that climb out, URLs, control characters.
PIECES = st.sampled_from(
    ["${", "}", "${a}", "${oc.env:HOME}", "${.x}", "${..y}", "${${k}}", "../../", "http://127.0.0.1:9/x",
     "\x1b[31m", "\n", "\0", "a.b", ":", "[", "]", "{", "-", "&a", "*a", "!!python/name:os.system", "'", '"', "1e999"]
)  # fmt: skip
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=8).map("".join)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXT, st.integers()), inner, max_size=4)
    ),
    max_leaves=20,
)


@QUICK
@given(st.lists(st.one_of(TEXT, st.sampled_from(["seed: 1", "data:", "  kind: x", "- a", "  - ${a}"])), max_size=12))
def test_any_recipe_text_is_read_or_refused_in_one_line(tmp_path, lines):
    path = tmp_path / "r.yaml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        recipe = load_recipe(path)
    except SeqkitError as error:
        assert str(error).strip()
        return
    assert isinstance(recipe.data, dict)
    assert "HOME" not in str(recipe.data) or "HOME" in path.read_text()  # no resolver ran


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = train_tiny(tmp_path_factory.mktemp("hostile"), "data.size=80")
    return torch.load(run / "best.ckpt", weights_only=True)


FIELDS = st.sampled_from(
    [("recipe",), ("recipe", "data"), ("recipe", "data", "size"), ("recipe", "model", "cell", "hidden_size"),
     ("recipe", "task", "kind"), ("recipe", "trainer"), ("recipe", "tokenizer"), ("plugins",), ("recipe_name",),
     ("recipe", "requires"), ("recipe", "seed"), ("recipe", "callbacks"), ("tokenizer",), ("tokenizer", "itos"),
     ("task",), ("task", "labels"), ("seqkit_version",)]
)  # fmt: skip


@QUICK
@given(FIELDS, VALUE)
def test_any_value_in_a_checkpoints_known_fields_is_used_or_refused(checkpoint, tmp_path, field, value):
    import copy

    saved = copy.deepcopy(checkpoint)
    node = saved["seqkit"]
    for part in field[:-1]:
        node = node[part]
    node[field[-1]] = value
    path = tmp_path / "fuzzed.ckpt"
    torch.save(saved, path)
    try:
        load(path)
    except SeqkitError as error:
        assert str(error).strip()


@QUICK
@given(st.dictionaries(st.sampled_from([*PATH_FIELDS, "dirpath", "best_k_models", "best_model_score"]), VALUE))
def test_restored_callback_state_never_names_a_path_outside_the_run(tmp_path, state):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "best.ckpt").touch()
    kept = confined_state(state, run)
    for key in PATH_FIELDS:
        assert kept.get(key, "") == "" or (inside(kept[key], run) and Path(kept[key]).is_file())
    assert all(inside(p, run) for p in kept.get("best_k_models") or {})
