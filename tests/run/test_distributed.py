"""DDP: the sampler's invariants, batch-size semantics, and 2 gloo processes against 1 process, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from seqkit.batching import BucketBatchSampler
from seqkit.distributed import batch_plan, check_same_on_every_process, is_rank_zero, shared_run_name
from seqkit.errors import SeqkitError

SHAPES = [(n, w, k) for n in (1, 5, 7, 64, 97, 200) for w in (1, 2, 3) for k in (1, 2)]


def shards(n: int, world: int, accumulate: int, epoch: int = 0, batch: int = 4, seed: int = 3) -> list[list[list[int]]]:
    lengths = [(i * 37) % 23 + 1 for i in range(n)]
    out = []
    for rank in range(world):
        sampler = BucketBatchSampler(
            lengths, batch, shuffle=True, seed=seed, pool=3, num_replicas=world, rank=rank, accumulate=accumulate
        )
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        out.append(batches)
    return out


@pytest.mark.parametrize(("n", "world", "accumulate"), SHAPES)
def test_every_process_gets_as_many_batches_and_together_they_cover_the_epoch(n, world, accumulate):
    per_rank = shards(n, world, accumulate)
    assert len({len(batches) for batches in per_rank}) == 1  # DDP steps in lockstep
    assert len(per_rank[0]) % accumulate == 0  # whole optimizer steps only
    assert all(batch for batches in per_rank for batch in batches)  # no empty batch, ever
    seen = Counter(i for batches in per_rank for batch in batches for i in batch)
    assert set(seen) == set(range(n))  # nothing dropped
    micro = world * accumulate
    step = 4 * micro
    # The documented rule: only a last global batch smaller than the number of micro-batches repeats examples.
    last = n % step or step
    repeated = sum(count - 1 for count in seen.values())
    assert repeated == (micro - last if last < micro else 0)


@pytest.mark.parametrize(("n", "world", "accumulate"), SHAPES)
def test_processes_step_on_the_global_batches_one_process_would(n, world, accumulate):
    """Step s of W processes × k micro-batches of size b holds the examples of 1 process's batch W·k·b."""
    per_rank = shards(n, world, accumulate)
    alone = shards(n, 1, 1, batch=4 * world * accumulate)[0]
    steps = len(per_rank[0]) // accumulate
    assert steps == len(alone)
    for s in range(steps):
        together = [
            i for batches in per_rank for batch in batches[s * accumulate : (s + 1) * accumulate] for i in batch
        ]
        assert set(together) == set(alone[s])
        sizes = [len(batch) for batches in per_rank for batch in batches[s * accumulate : (s + 1) * accumulate]]
        assert max(sizes) - min(sizes) <= 1  # a step's micro-batches differ by one example at most


def test_the_order_is_deterministic_per_epoch_and_changes_between_epochs():
    assert shards(97, 2, 1, epoch=4) == shards(97, 2, 1, epoch=4)
    assert shards(97, 2, 1, epoch=4) != shards(97, 2, 1, epoch=5)
    assert shards(97, 2, 1, epoch=4, seed=3) != shards(97, 2, 1, epoch=4, seed=4)


def test_processes_keep_the_length_buckets():
    lengths = [(i * 7919) % 100 + 1 for i in range(1000)]
    batches = list(BucketBatchSampler(lengths, 8, shuffle=True, seed=0, num_replicas=2, rank=1))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # random batches of 8 would spread ~75


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 101])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_evaluation_shards_are_disjoint_and_complete(n, world):
    lengths = [(i * 13) % 9 for i in range(n)]
    per_rank = [list(BucketBatchSampler(lengths, 3, shuffle=False, num_replicas=world, rank=r)) for r in range(world)]
    flat = [i for batches in per_rank for batch in batches for i in batch]
    assert sorted(flat) == list(range(n))  # no repeats: they would bias the metrics
    assert max(map(len, per_rank)) - min(map(len, per_rank)) <= 1
    for rank, batches in enumerate(per_rank):
        assert len(batches) == len(BucketBatchSampler(lengths, 3, shuffle=False, num_replicas=world, rank=rank))


def test_sampler_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank"):
        BucketBatchSampler([1, 2], 1, shuffle=True, num_replicas=2, rank=2)


@pytest.mark.parametrize(
    ("batch", "global_batch", "world", "expected"),
    [
        (32, None, 4, (32, 1, 128)),  # batch_size is per device: the global batch grows with the devices
        (32, 64, 1, (32, 2, 64)),
        (32, 64, 2, (32, 1, 64)),
        (32, 64, 4, (16, 1, 64)),
        (10, 96, 2, (8, 6, 96)),  # the fewest accumulation steps that split 48 per process into ≤ 10
        (64, 6, 3, (2, 1, 6)),
    ],
)
def test_batch_plan(batch, global_batch, world, expected):
    plan = batch_plan(batch, global_batch, world)
    assert (plan.per_device, plan.accumulate, plan.global_batch) == expected
    assert plan.per_device <= batch


def test_batch_plan_errors_name_the_key():
    with pytest.raises(SeqkitError, match=r"data.global_batch_size=10 .* 4 processes: expected a multiple of 4"):
        batch_plan(8, 10, 4)
    with pytest.raises(SeqkitError, match="remove trainer.accumulate_grad_batches=2"):
        batch_plan(8, 16, 1, accumulate=2)
    assert batch_plan(8, None, 2, accumulate=3).global_batch == 48


class FakeStrategy:
    root_device = torch.device("cpu")

    def __init__(self, others: list[torch.Tensor]) -> None:
        self.others = others

    def all_gather(self, mine: torch.Tensor) -> torch.Tensor:
        return torch.stack([mine, *self.others])


def test_processes_that_built_different_vocabularies_stop_together():
    what = {"vocabularies": {"a": 1}, "task states": {"labels": ["x"]}, "splits": {"train": 3}}
    from seqkit.distributed import fingerprint

    same = torch.tensor([fingerprint(v) for v in what.values()])
    check_same_on_every_process(FakeStrategy([same]), 2, what)
    other = same.clone()
    other[0] += 1
    with pytest.raises(SeqkitError, match="2 processes built different vocabularies from the data"):
        check_same_on_every_process(FakeStrategy([other]), 2, what)


def test_rank_and_run_folder_from_the_launchers_variables(monkeypatch):
    for name in (
        "RANK",
        "LOCAL_RANK",
        "NODE_RANK",
        "SLURM_PROCID",
        "SLURM_NTASKS",
        "SLURM_JOB_ID",
        "TORCHELASTIC_RUN_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    assert is_rank_zero() and shared_run_name() is None
    monkeypatch.setenv("LOCAL_RANK", "1")  # a process Lightning's launcher started
    assert not is_rank_zero()
    monkeypatch.setenv("RANK", "0")  # torchrun's rank 0 on its first node
    assert is_rank_zero()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc")
    assert shared_run_name() == "torchrun-abc"
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.setenv("SLURM_PROCID", "3")  # srun's task 3 of 4
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    assert not is_rank_zero() and shared_run_name() == "slurm-77"
    monkeypatch.setenv("SLURM_NTASKS", "1")  # a plain sbatch shell is no rank of a job
    monkeypatch.delenv("LOCAL_RANK")
    assert is_rank_zero() and shared_run_name() is None


# ---- two gloo processes through the CLI ------------------------------------------------------------------

TINY = [
    "data.size=240",  # 192 training examples: 6 global batches of 32
    "model.embed_dim=8",
    "model.cell.hidden_size=12",
    "model.cell.backend=native",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.accelerator=cpu",
]


def launch_env(**variables: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **variables}
    for name in ("LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE", "SEQKIT_RUN_DIR"):
        env.pop(name, None)
    return env


def seqkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "seqkit", *args], cwd=cwd, env=launch_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def metrics_of(run: Path) -> dict[str, float]:
    """The metrics of a run's metrics.json (or of a copy of one), without its ``run`` record of what ran."""
    path = run if run.suffix == ".json" else run / "metrics.json"
    return {k: v for k, v in json.loads(path.read_text()).items() if k != "run"}


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], atol=1e-5, rtol=0, msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same recipe on 1 process with batch 32, and on 2 gloo processes with batch 16 each."""
    root = tmp_path_factory.mktemp("ddp")
    one = root / "one"
    two = root / "two"
    seqkit("train", "quickstart", *TINY, "data.batch_size=32", f"run_dir={one}", cwd=root)
    result = seqkit(
        "train", "quickstart", *TINY, "data.batch_size=16", "trainer.devices=2", "trainer.strategy=ddp",
        f"run_dir={two}", cwd=root,
    )  # fmt: skip
    # a later test resumes `one`
    shutil.copy(one / "last.ckpt", root / "one-after-2-epochs.ckpt")
    shutil.copy(one / "metrics.json", root / "one-after-2-epochs.json")
    return root, one, two, result


def test_two_processes_train_the_weights_one_process_does(runs):
    _, one, two, result = runs
    assert_same_weights(one / "last.ckpt", two / "last.ckpt")
    assert torch.load(two / "last.ckpt", weights_only=True)["global_step"] == 12
    first = metrics_of(one)
    second = metrics_of(two)
    assert first.keys() == second.keys() and "val/accuracy" in first
    for name in first:
        assert second[name] == pytest.approx(first[name], abs=1e-4), name
    # printed once, by rank 0
    assert result.stdout.count("run directory:") == 1
    assert result.stderr.count("global batch 32 = 16 per device × 2 processes × 1 accumulated") == 1


def test_a_two_process_checkpoint_evaluates_and_resumes_in_one_process(runs):
    root, one, two, _ = runs
    reported = metrics_of(two)
    evaluated = json.loads(seqkit("eval", str(two / "best.ckpt"), "--split", "valid", "--json", cwd=root).stdout)
    for name, value in evaluated.items():
        assert reported[name] == pytest.approx(value, abs=1e-5), name
    # 1 process, batch 32, continues the 2-process run where it stopped, just as the 1-process run would
    seqkit("train", str(two / "recipe.yaml"), "resume=last", "trainer.max_epochs=3", "trainer.devices=1",
           "trainer.strategy=auto", "data.batch_size=32", cwd=root)  # fmt: skip
    seqkit("train", str(one / "recipe.yaml"), "resume=last", "trainer.max_epochs=3", cwd=root)
    assert torch.load(two / "last.ckpt", weights_only=True)["epoch"] == 2
    assert_same_weights(one / "last.ckpt", two / "last.ckpt")


def test_global_batch_size_gives_the_same_steps_on_any_number_of_processes(runs, tmp_path):
    """global_batch_size=32 with micro-batches of 8: 1 process accumulates 4, 2 processes accumulate 2 each."""
    root, _, _, _ = runs
    fixed = [*TINY, "data.global_batch_size=32", "data.batch_size=8"]
    seqkit("train", "quickstart", *fixed, f"run_dir={tmp_path / 'a'}", cwd=root)
    result = seqkit(
        "train", "quickstart", *fixed, "trainer.devices=2", "trainer.strategy=ddp", f"run_dir={tmp_path / 'b'}",
        cwd=root,
    )  # fmt: skip
    assert "global batch 32 = 8 per device × 2 processes × 2 accumulated" in result.stderr
    assert_same_weights(root / "one-after-2-epochs.ckpt", tmp_path / "a" / "last.ckpt")
    assert_same_weights(root / "one-after-2-epochs.ckpt", tmp_path / "b" / "last.ckpt")


def test_torchrun_starts_the_same_run(runs):
    """torchrun starts every rank itself: they agree on one run folder and train what 1 process does."""
    root, _, _, _ = runs
    cwd = root / "torchrun"
    cwd.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "seqkit"]
    arguments = ["train", "quickstart", *TINY, "data.batch_size=16", "trainer.devices=2", "trainer.strategy=ddp"]
    result = subprocess.run(
        [*command, *arguments], cwd=cwd, env=launch_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = [p for p in (cwd / "runs" / "quickstart").iterdir() if p.name != "latest"]
    assert folder.name.startswith("torchrun-")
    assert os.readlink(cwd / "runs" / "quickstart" / "latest") == folder.name  # set once, by rank 0
    assert result.stdout.count("run directory:") == 1
    assert_same_weights(root / "one-after-2-epochs.ckpt", folder / "last.ckpt")


def test_srun_tasks_start_the_same_run(runs):
    """Two processes with the variables `srun --ntasks=2` sets, as SLURM would start them on one node."""
    root, _, _, _ = runs
    cwd = root / "slurm"
    cwd.mkdir()
    arguments = ["train", "quickstart", *TINY, "data.batch_size=16", "trainer.devices=2", "trainer.strategy=ddp"]
    slurm = {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_JOB_NAME": "seqkit", "SLURM_JOB_ID": "4242",
             "SLURM_NODELIST": "localhost", "SLURM_NODEID": "0"}  # fmt: skip
    tasks = [
        subprocess.Popen(
            [sys.executable, "-m", "seqkit", *arguments],
            cwd=cwd,
            env=launch_env(**slurm, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = [task.communicate(timeout=300) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs[0][1][-3000:]
    assert [out.count("run directory:") for out, _ in outputs] == [1, 0]
    assert_same_weights(root / "one-after-2-epochs.ckpt", cwd / "runs" / "quickstart" / "slurm-4242" / "last.ckpt")
    assert os.readlink(cwd / "runs" / "quickstart" / "latest") == "slurm-4242"


def test_ddp_spawn_trains_and_reports_what_one_process_does(runs, tmp_path):
    root, _, _, _ = runs
    seqkit("train", "quickstart", *TINY, "data.batch_size=16", "trainer.devices=2", "trainer.strategy=ddp_spawn",
           f"run_dir={tmp_path}", cwd=root)  # fmt: skip
    assert_same_weights(root / "one-after-2-epochs.ckpt", tmp_path / "last.ckpt")
    reported = metrics_of(tmp_path)
    expected = metrics_of(root / "one-after-2-epochs.json")
    assert reported == pytest.approx(expected, abs=1e-4)


def test_nodes_started_by_hand_must_name_their_run_folder(tmp_path, monkeypatch, capsys):
    from tests.recipe_helpers import TINY, cli

    for name in ("RANK", "LOCAL_RANK", "SEQKIT_RUN_DIR", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "train", "quickstart", *TINY)
    assert code == 2 and "set run_dir=PATH" in err
    assert not (tmp_path / "runs").exists()


def test_a_second_run_in_the_same_process_gets_its_own_folder(tmp_path, monkeypatch, capsys):
    from tests.recipe_helpers import TINY, cli

    monkeypatch.delenv("SEQKIT_RUN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "train", "quickstart", *TINY, "run_dir=first")[0] == 0
    assert "SEQKIT_RUN_DIR" not in os.environ
    assert cli(capsys, "train", "quickstart", *TINY)[0] == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "quickstart").iterdir())[-1] == "latest"
    assert len(list((tmp_path / "runs" / "quickstart").iterdir())) == 2  # the run, and latest pointing at it


@pytest.mark.slow
def test_sigterm_stops_every_process_and_one_process_resumes_exactly(tmp_path):
    """SIGTERM to the launching process of a 2-process run mid-epoch: both save one resume point and stop;
    1 process with the same global batch continues it to the weights of a run never stopped."""
    import signal
    import time

    recipe = ["quickstart", "data.size=2000", *TINY[1:], "trainer.max_epochs=3", "checkpoint_every_n_steps=0"]
    run = tmp_path / "stopped"
    launch = [sys.executable, "-m", "seqkit", "train", *recipe, "data.batch_size=16", "trainer.devices=2",
              "trainer.strategy=ddp", f"run_dir={run}"]  # fmt: skip
    process = subprocess.Popen(launch, cwd=tmp_path, env=launch_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (run / "last.ckpt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)  # into the second epoch
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err[-2000:]
    assert "SIGTERM: stopped after saving" in err
    seqkit("train", str(run / "recipe.yaml"), "resume=last", "trainer.devices=1", "trainer.strategy=auto",
           "data.batch_size=32", cwd=tmp_path)  # fmt: skip
    seqkit("train", *recipe, "data.batch_size=32", f"run_dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert_same_weights(tmp_path / "whole" / "last.ckpt", run / "last.ckpt")


def test_a_token_level_loss_trains_the_same_on_two_processes(tmp_path):
    """Translation's loss is a mean over target tokens, which the two halves of a global batch hold unequally:
    each process's share is weighted by its tokens, so 2 × 16 still steps as 1 × 32, and the generation
    metrics (BLEU, chrF) and the token-weighted loss are computed over the whole split."""
    recipe = ["translation/gru_reverse", "data.size=200", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
              "model.cell.backend=native"]  # fmt: skip
    seqkit("train", *recipe, "data.batch_size=32", f"run_dir={tmp_path / 'one'}", cwd=tmp_path)
    seqkit("train", *recipe, "data.batch_size=16", "trainer.devices=2", "trainer.strategy=ddp",
           f"run_dir={tmp_path / 'two'}", cwd=tmp_path)  # fmt: skip
    assert_same_weights(tmp_path / "one" / "last.ckpt", tmp_path / "two" / "last.ckpt")
    one = metrics_of(tmp_path / "one")
    two = metrics_of(tmp_path / "two")
    assert {"val/bleu", "val/chrf", "val/loss"} <= one.keys()
    assert two == pytest.approx(one, abs=1e-4)
