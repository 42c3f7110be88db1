"""The thread policy: explicit settings win, else the tightest of affinity, cgroup quota and Slurm; a brief spin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqkit.errors import InvalidArgumentError
from seqkit.threads import WAIT_VAR, ThreadPolicy, apply_environment, cgroup_cpus, choose


def _choose(env: dict[str, str], cpus: int = 8, quota: float | None = None) -> ThreadPolicy:
    return choose(env, affinity=lambda: cpus, cgroup=lambda: quota)


def test_affinity_alone_decides_on_an_unlimited_machine() -> None:
    policy = _choose({}, cpus=2)
    assert (policy.threads, policy.reason) == (2, "affinity 2 CPUs")
    assert policy.describe() == "2 threads (affinity 2 CPUs), OpenMP wait brief spin"


def test_the_tightest_limit_wins_and_is_named() -> None:
    assert _choose({}, cpus=16, quota=1.5).threads == 2  # a quota of 1.5 CPUs still runs two threads part-time
    assert _choose({}, cpus=16, quota=1.5).reason == "cgroup quota 1.5 CPUs"
    assert _choose({}, cpus=16, quota=0.2).threads == 1
    slurm = _choose({"SLURM_CPUS_PER_TASK": "3"}, cpus=16, quota=8.0)
    assert (slurm.threads, slurm.reason) == (3, "SLURM_CPUS_PER_TASK=3")
    assert _choose({"SLURM_CPUS_PER_TASK": "32"}, cpus=4).reason == "affinity 4 CPUs"


def test_an_explicit_setting_wins_over_every_limit() -> None:
    assert _choose({"OMP_NUM_THREADS": "5"}, cpus=2, quota=1.0).threads == 5
    both = _choose({"SEQKIT_THREADS": "3", "OMP_NUM_THREADS": "1"}, cpus=2)
    assert (both.threads, both.reason) == (3, "SEQKIT_THREADS=3")
    assert _choose({"OMP_NUM_THREADS": "4,2"}).reason == "OMP_NUM_THREADS=4"  # OpenMP's nested form: the outer level


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5", "100000", "9" * 20, "\uff11"])  # \uff11: a fullwidth 1
def test_a_malformed_setting_is_a_user_error_naming_the_variable(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"SEQKIT_THREADS={value!r}"):
        _choose({"SEQKIT_THREADS": value})


def test_the_users_wait_policy_is_kept_and_reported() -> None:
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    policy = apply_environment(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"
    assert policy.describe().endswith("OpenMP wait active (set by OMP_WAIT_POLICY)")
    fresh: dict[str, str] = {"SEQKIT_THREADS": "1"}
    assert apply_environment(fresh).wait == "brief spin"
    assert fresh["GOMP_SPINCOUNT"] == "10000" and fresh["KMP_BLOCKTIME"] == "1" and "OMP_WAIT_POLICY" not in fresh
    assert "OMP_NUM_THREADS" not in fresh  # children (data loader workers, spawned ranks) choose for themselves


def test_a_users_spin_setting_is_kept_and_nothing_else_is_set() -> None:
    env = {"GOMP_SPINCOUNT": "500"}
    policy = apply_environment(env)
    assert env == {"GOMP_SPINCOUNT": "500"}
    assert policy.describe().endswith("OpenMP wait spin count 500 (set by GOMP_SPINCOUNT)")
    env = {"KMP_BLOCKTIME": "0"}
    assert apply_environment(env).describe().endswith("OpenMP wait block time 0 (set by KMP_BLOCKTIME)")
    assert env == {"KMP_BLOCKTIME": "0"}


def _cgroup_v2(tmp_path: Path, files: dict[str, str]) -> float | None:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/user.slice/job\n")
    return cgroup_cpus(root=tmp_path, proc_cgroup=proc)


def test_cgroup_v2_takes_the_tightest_quota_up_the_tree(tmp_path: Path) -> None:
    quota = _cgroup_v2(tmp_path, {"user.slice/job/cpu.max": "max 100000\n", "user.slice/cpu.max": "150000 100000\n"})
    assert quota == 1.5
    assert _cgroup_v2(tmp_path / "none", {"user.slice/job/cpu.max": "max 100000\n"}) is None


def test_cgroup_v2_path_above_the_namespace_root_reads_the_mount_only(tmp_path: Path) -> None:
    """``0::/../y`` (a cgroup namespace's process moved out of it): nothing outside the mounted tree is read."""
    root = tmp_path / "cgroup"
    (root / "job").mkdir(parents=True)
    (root / "cpu.max").write_text("200000 100000\n")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "cpu.max").write_text("50000 100000\n")  # beside the mount: must not count
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # above it: must not count either
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/../y\n")
    assert cgroup_cpus(root=root, proc_cgroup=proc) == 2.0


def test_cgroup_v1_cfs_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("4:cpu,cpuacct:/docker/abc\n")
    assert cgroup_cpus(root=tmp_path, proc_cgroup=proc) == 3.0
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpus(root=tmp_path, proc_cgroup=proc) is None


def _cgroup_v1(tmp_path: Path, mount: str, quotas: dict[str, int], line: str) -> float | None:
    """A cgroup v1 ``cpu`` hierarchy mounted at *mount*: CFS quotas (µs of a 100 ms period, -1: none) by directory."""
    for relative, quota in quotas.items():
        directory = tmp_path / mount / relative
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        (directory / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"7:memory:/other\n{line}\n")
    return cgroup_cpus(root=tmp_path, proc_cgroup=proc)


def test_cgroup_v1_quota_of_this_process_own_cgroup(tmp_path: Path) -> None:
    """Outside a container (a job scheduler's or systemd's cgroup on a v1 host) the quota is set on the process's own
    cgroup, below the mount point, whose own quota is none."""
    assert _cgroup_v1(tmp_path, "cpu", {"": -1, "seqkit_job": 100000}, "1:cpu:/seqkit_job") == 1.0


def test_cgroup_v1_takes_the_tightest_quota_up_the_tree(tmp_path: Path) -> None:
    quotas = {"": -1, "slurm": 800000, "slurm/job": 300000, "slurm/job/step": -1}
    assert _cgroup_v1(tmp_path / "a", "cpu,cpuacct", quotas, "4:cpu,cpuacct:/slurm/job/step") == 3.0
    # the hierarchy mounted under another of its names (cpu and cpuacct joined, mounted as cpu)
    assert _cgroup_v1(tmp_path / "b", "cpu", quotas, "4:cpuacct,cpu:/slurm/job/step") == 3.0
    assert _cgroup_v1(tmp_path / "c", "cpu", {"": -1, "slurm/job": -1}, "4:cpu:/slurm/job") is None
    # a cgroup beside a namespace's root (/../y): the mount point's own quota, nothing read outside the hierarchy
    (tmp_path / "d" / "y").mkdir(parents=True)
    (tmp_path / "d" / "y" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "d" / "y" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_v1(tmp_path / "d", "cpu", {"": 200000}, "4:cpu:/../y") == 2.0


def test_missing_cgroup_files_mean_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpus(root=tmp_path, proc_cgroup=tmp_path / "absent") is None
    proc = tmp_path / "proc_cgroup"  # a cgroup path no file can have (a NUL byte): no limit, no error
    proc.write_text("0::/a\x00b\n4:cpu:/a\x00b\n")
    assert cgroup_cpus(root=tmp_path, proc_cgroup=proc) is None


def test_the_run_header_says_what_was_chosen_and_why() -> None:
    from seqkit.report import RunReport

    report = RunReport(epoch_lines=False)
    policy = ThreadPolicy(3, "SEQKIT_THREADS=3", "passive", "seqkit default")
    report.facts = {"device": "cpu", "devices": 1, "threads": 3, "thread_policy": policy.as_dict()}
    assert "device cpu × 1, 3 threads (SEQKIT_THREADS=3), OpenMP wait passive, precision" in report.header()
    report.facts = {"device": "cpu", "devices": 1, "threads": 4, "thread_policy": None}
    assert "4 threads (torch default)" in report.header()  # seqkit used as a library chooses nothing


def test_busy_cpus_lower_the_thread_count_only_where_the_mask_is_the_whole_machine() -> None:
    from seqkit.threads import sharing_busy_cpus

    mask = ThreadPolicy(2, "affinity 2 CPUs", "passive", "seqkit default")
    shared = sharing_busy_cpus(mask, cpus=2, machine_cpus=2, busy=1)
    assert (shared.threads, shared.reason) == (1, "affinity 2 CPUs, 1 busy with other work")
    assert sharing_busy_cpus(mask, 2, 2, busy=5).threads == 1  # never fewer than one
    assert sharing_busy_cpus(mask, 2, 2, busy=0) == mask
    assert sharing_busy_cpus(mask, 2, 2, busy=None) == mask  # /proc/stat unreadable: nothing known
    assert sharing_busy_cpus(ThreadPolicy(8, "affinity 8 CPUs", "passive", "seqkit default"), 8, 8, 3).threads == 5
    # a narrower mask, a quota, Slurm or an explicit setting: the machine's other tasks are not ours to share
    assert sharing_busy_cpus(mask, cpus=2, machine_cpus=64, busy=40) == mask
    for reason in ("cgroup quota 2 CPUs", "SLURM_CPUS_PER_TASK=2", "SEQKIT_THREADS=2"):
        policy = ThreadPolicy(2, reason, "passive", "seqkit default")
        assert sharing_busy_cpus(policy, 2, 2, busy=1) == policy


def test_other_running_tasks_are_read_from_proc_stat_as_the_fewest_of_the_samples(tmp_path: Path) -> None:
    from seqkit.threads import others_running

    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3 4\nprocs_running 3\nprocs_blocked 0\n")
    assert others_running(stat, samples=2, interval=0) == 2  # this process is one of the running ones
    assert others_running(tmp_path / "missing", samples=2, interval=0) is None
    stat.write_text("procs_running 1\n")
    assert others_running(stat, samples=1) == 0


@pytest.mark.parametrize(
    "name,value,described",
    [
        ("OMP_WAIT_POLICY", "active", "active"),
        ("OMP_WAIT_POLICY", " Passive ", "passive"),
        ("GOMP_SPINCOUNT", "0", "spin count 0"),
        ("GOMP_SPINCOUNT", "10k", "spin count 10k"),
        ("GOMP_SPINCOUNT", " 3 M ", "spin count 3 M"),
        ("GOMP_SPINCOUNT", "2G", "spin count 2G"),
        ("GOMP_SPINCOUNT", "1t", "spin count 1t"),
        ("GOMP_SPINCOUNT", "INFINITE", "spin count INFINITE"),
        ("GOMP_SPINCOUNT", "infinity", "spin count infinity"),
        ("GOMP_SPINCOUNT", "99999999999T", "spin count 99999999999T"),  # GNU OpenMP caps it at its maximum
        ("GOMP_SPINCOUNT", "+10", "spin count +10"),  # strtoull reads the sign
    ],
)
def test_every_form_openmp_accepts_for_a_wait_setting_is_kept(name: str, value: str, described: str) -> None:
    env = {"SEQKIT_THREADS": "1", name: value}
    assert apply_environment(env).wait == described
    assert env == {"SEQKIT_THREADS": "1", name: value}


@pytest.mark.parametrize(
    "name,value",
    [
        ("OMP_NUM_THREADS", "4,abc"),
        ("OMP_NUM_THREADS", "4,,2"),
        ("OMP_NUM_THREADS", "5000,2"),
        ("OMP_NUM_THREADS", "2,0"),
        ("OMP_WAIT_POLICY", "spin"),
        ("GOMP_SPINCOUNT", "-1"),
        ("GOMP_SPINCOUNT", "k"),
        ("GOMP_SPINCOUNT", "1e3"),
        ("GOMP_SPINCOUNT", "1.5k"),
        ("GOMP_SPINCOUNT", "18446744073709551616"),  # 2**64: GNU OpenMP's parser overflows
        ("GOMP_SPINCOUNT", "\uff11"),
    ],
)
def test_an_openmp_setting_the_runtime_would_reject_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(f"environment variable {name}={value!r}: expected")):
        _choose({name: value})


def test_nested_thread_counts_keep_the_outer_level_and_spaces_are_allowed() -> None:
    assert _choose({"OMP_NUM_THREADS": " 4 , 2 "}).threads == 4
    assert _choose({"OMP_NUM_THREADS": "2,5000"}).threads == 2  # a nested level is OpenMP's, not bounded by seqkit
    assert _choose({"OMP_NUM_THREADS": "3,2,1"}).reason == "OMP_NUM_THREADS=3"


def test_a_bad_omp_num_threads_is_refused_even_where_seqkit_threads_wins() -> None:
    with pytest.raises(InvalidArgumentError, match="OMP_NUM_THREADS='abc'"):
        _choose({"SEQKIT_THREADS": "1", "OMP_NUM_THREADS": "abc"})


def test_an_empty_openmp_setting_means_unset_and_is_not_passed_on() -> None:
    # GNU OpenMP warns of an empty value as invalid; seqkit, as for SEQKIT_THREADS, reads it as no setting at all
    env = {"SEQKIT_THREADS": "1", "OMP_NUM_THREADS": "", "OMP_WAIT_POLICY": " ", "GOMP_SPINCOUNT": ""}
    assert apply_environment(env).wait == "brief spin"
    assert "OMP_NUM_THREADS" not in env and "OMP_WAIT_POLICY" not in env
    assert env["GOMP_SPINCOUNT"] == "10000"


def test_a_recipes_thread_count_wins_over_the_environment_and_is_put_back() -> None:
    import torch

    from seqkit import threads

    before, policy = torch.get_num_threads(), threads.applied()
    wanted = before + 1
    try:
        chosen = ThreadPolicy(2, "SEQKIT_THREADS=2", "passive", WAIT_VAR)
        threads.restore(chosen, before)
        assert threads.apply_recipe(None) is chosen  # no trainer.threads: the policy stays
        applied = threads.apply_recipe(wanted)
        assert torch.get_num_threads() == wanted and threads.applied() == applied
        # the run's own count, named as the recipe key; the wait the environment chose is untouched
        wait = f"OpenMP wait passive (set by {WAIT_VAR})"
        assert applied.describe() == f"{wanted} threads (trainer.threads={wanted}), {wait}"
        threads.restore(chosen, before)
        assert torch.get_num_threads() == before and threads.applied() is chosen
        threads.restore(None, before)  # seqkit used as a library: the recipe still sets the count, the wait is OpenMP's
        assert threads.apply_recipe(1).describe() == "1 thread (trainer.threads=1), OpenMP wait as OpenMP starts"
    finally:
        threads.restore(policy, before)
