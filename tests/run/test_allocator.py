"""The allocator policy: glibc keeps freed memory for reuse unless the user chose otherwise; said in the header."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seqkit.allocator import MMAP_THRESHOLD, OURS, TRIM_THRESHOLD, AllocatorPolicy, apply, choose, libc_name
from seqkit.errors import InvalidArgumentError
from tests.recipe_helpers import cli

GLIBC = "glibc 2.36"


def test_on_glibc_freed_memory_is_kept_by_default() -> None:
    assert choose({}, GLIBC) == AllocatorPolicy(True, "seqkit default")
    assert choose({"SEQKIT_MALLOC": "keep"}, GLIBC).keeps_freed
    assert choose({"SEQKIT_MALLOC": ""}, GLIBC).keeps_freed  # empty means unset


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"SEQKIT_MALLOC": "system"}, "SEQKIT_MALLOC=system"),
        ({"MALLOC_TRIM_THRESHOLD_": "0"}, "MALLOC_TRIM_THRESHOLD_ set"),
        ({"MALLOC_MMAP_THRESHOLD_": "131072"}, "MALLOC_MMAP_THRESHOLD_ set"),
        ({"MALLOC_TOP_PAD_": "0"}, "MALLOC_TOP_PAD_ set"),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, "GLIBC_TUNABLES set"),
        ({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, "LD_PRELOAD libjemalloc.so.2"),
        ({"LD_PRELOAD": "libfoo.so:/opt/libtcmalloc_minimal.so.4"}, "LD_PRELOAD libtcmalloc_minimal.so.4"),
    ],
)
def test_a_users_own_allocator_setting_is_left_alone_and_named(env: dict[str, str], reason: str) -> None:
    policy = choose(env, GLIBC)
    assert policy == AllocatorPolicy(False, reason)
    assert policy.describe() == f"allocator as is ({reason})"


def test_other_c_libraries_are_left_alone() -> None:
    assert choose({}, None) == AllocatorPolicy(False, "not glibc")
    assert choose({}, "musl") == AllocatorPolicy(False, "not glibc")


def test_the_values_seqkit_exported_for_its_own_children_count_as_its_own() -> None:
    assert choose(dict(OURS), GLIBC).keeps_freed  # a spawned rank or a nested seqkit sees them
    assert not choose({**OURS, "MALLOC_TRIM_THRESHOLD_": "1"}, GLIBC).keeps_freed


@pytest.mark.parametrize("value", ["yes", "KEEP", "1"])
def test_a_malformed_setting_is_a_user_error_naming_the_variable(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"SEQKIT_MALLOC={value!r}: expected 'keep'"):
        choose({"SEQKIT_MALLOC": value}, GLIBC)


def test_apply_sets_both_thresholds_and_exports_them_for_child_processes() -> None:
    calls: list[tuple[int, int]] = []
    env: dict[str, str] = {}
    policy = apply(env, GLIBC, lambda option, value: calls.append((option, value)) or 1)
    assert policy.keeps_freed and calls == [(-3, MMAP_THRESHOLD), (-1, TRIM_THRESHOLD)]
    assert env == {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def test_a_glibc_that_refuses_a_threshold_is_reported_and_nothing_is_exported(monkeypatch) -> None:
    env: dict[str, str] = {}
    policy = apply(env, GLIBC, lambda option, value: 0)
    assert policy == AllocatorPolicy(False, "glibc refused the thresholds") and env == {}
    monkeypatch.setattr("seqkit.allocator._glibc_mallopt", lambda: None)  # a Python linked statically, say
    assert apply({}, GLIBC) == AllocatorPolicy(False, "mallopt not found")
    untouched: list[tuple[int, int]] = []
    assert not apply({"SEQKIT_MALLOC": "system"}, GLIBC, lambda *a: untouched.append(a) or 1).keeps_freed
    assert untouched == []


# A child process: the first block shows where glibc put an 8 MiB allocation (its chunk header's IS_MMAPPED bit),
# then 12 blocks of 16 MiB are touched and freed, and the resident memory is read after.
_PROBE = r"""
import ctypes, json, os
from seqkit import allocator
policy = allocator.apply()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
block = libc.malloc(8 << 20)
mmapped = bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2)
libc.free(block)
before = resident()
blocks = [libc.malloc(16 << 20) for _ in range(12)]
for b in blocks:
    ctypes.memset(b, 1, 16 << 20)
for b in reversed(blocks):
    libc.free(b)
print(json.dumps({"keeps": policy.keeps_freed, "mmapped": mmapped, "kept_mib": (resident() - before) >> 20}))
"""


@pytest.mark.skipif(not (libc_name() or "").startswith("glibc"), reason="glibc's allocator only")
def test_on_glibc_freed_blocks_stay_in_the_process_and_system_hands_them_back() -> None:
    def probe(setting: str) -> dict[str, object]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD"))}
        run = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env={**env, "SEQKIT_MALLOC": setting},
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(run.stdout)

    kept, system = probe("keep"), probe("system")
    assert kept["keeps"] and not kept["mmapped"] and kept["kept_mib"] >= 150  # 192 MiB freed, kept for reuse
    assert not system["keeps"] and system["mmapped"] and system["kept_mib"] < 32  # glibc gave them back


_BARE_PROBE = r"""
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
block = libc.malloc(8 << 20)
print(bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2))
"""


@pytest.mark.skipif(not (libc_name() or "").startswith("glibc"), reason="glibc's allocator only")
def test_the_exported_settings_take_effect_in_a_process_the_run_starts() -> None:
    # a spawned rank or a data loader worker runs no seqkit code first: glibc reads the variables as it starts
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD"))}

    def mmapped(extra: dict[str, str]) -> str:
        command = [sys.executable, "-c", _BARE_PROBE]
        return subprocess.run(command, env={**env, **extra}, capture_output=True, text=True, check=True).stdout

    assert mmapped(OURS).strip() == "False" and mmapped({}).strip() == "True"


def test_the_run_header_says_what_the_allocator_does() -> None:
    from seqkit.report import RunReport

    report = RunReport(epoch_lines=False)
    report.facts = {
        "device": "cpu",
        "devices": 1,
        "threads": 1,
        "allocator_policy": {"keeps_freed": True, "reason": "seqkit default"},
    }
    assert ", 1 thread (torch default), freed memory kept, precision" in report.header()
    report.facts["allocator_policy"] = AllocatorPolicy(False, "LD_PRELOAD libjemalloc.so").as_dict()
    assert ", allocator as is (LD_PRELOAD libjemalloc.so), precision" in report.header()
    report.facts["allocator_policy"] = None  # seqkit used as a library: nothing chosen, nothing said
    assert "allocator" not in report.header() and "freed memory" not in report.header()


def test_a_malformed_setting_stops_a_computing_command_with_one_line(capsys, monkeypatch) -> None:
    monkeypatch.setenv("SEQKIT_MALLOC", "always")
    code, out, err = cli(capsys, "bench", "gru", "--repeat", "1", "--warmup", "1", "--steps", "2")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "seqkit bench: error: environment variable SEQKIT_MALLOC='always': expected 'keep' (freed memory kept for "
        "reuse, the default) or 'system' (the C library's own behaviour)"
    ]


def test_bench_reports_the_allocator_policy(capsys, monkeypatch) -> None:
    monkeypatch.setenv("SEQKIT_MALLOC", "system")
    code, out, _ = cli(capsys, "bench", "gru", "--repeat", "1", "--warmup", "1", "--steps", "2", "--json", "-")
    assert code == 0
    assert json.loads(out)["allocator"] == {"keeps_freed": False, "reason": "SEQKIT_MALLOC=system"}
