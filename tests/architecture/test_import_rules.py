"""The core's imports go one way between its jobs, with no cycle (function-level imports included), and the
layer library never imports Lightning."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

CORE = ROOT / "seqkit"

# Each job and the jobs it may import (besides itself): cli -> run -> recipe -> data -> rnn -> plugin -> base.
LEVELS = ["base", "plugin", "rnn", "data", "recipe", "run", "bench", "testing", "cli"]
ALLOWED = {
    "base": set(),
    "plugin": {"base"},
    "rnn": {"base", "plugin"},
    "data": {"base", "plugin", "rnn"},  # records, tokenizers and the task contract (a task builds layers)
    "recipe": {"base", "plugin", "rnn", "data"},
    "run": {"base", "plugin", "rnn", "data", "recipe"},
    "bench": {"base", "plugin", "rnn"},
    "testing": {"base", "plugin", "rnn", "data", "recipe", "run"},
    "cli": {"base", "plugin", "rnn", "data", "recipe", "run", "bench"},
}
PACKAGES = {
    "rnn": "rnn",
    "plugin": "plugin",
    "recipe": "recipe",
    "run": "run",
    "data": "data",
    "bench": "bench",
    "testing": "testing",
    "serve": "cli",
    "cli": "cli",
}
# modules not (yet) in a package of their job
FLAT = {
    "base": "errors filekind lazy bounds moved json_stdout quiet threads allocator launcher_env versions environment "
    "recipe_guard",
    "plugin": "hookspecs predict_options",
    "data": "task export.spec",
    "run": "export export.bundle export.onnx_rnn export.torch_rnn",
    "cli": "__main__ export.command",
}
JOB = {f"seqkit.{module}": job for job, modules in FLAT.items() for module in modules.split()}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def job_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in PACKAGES:
        return PACKAGES[parts[1]]
    return JOB[module]


def imports(path: Path) -> list[tuple[str, int]]:
    """``(module, line)`` of every import that runs (at the top or in a function; not ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def graph() -> dict[str, list[tuple[str, int]]]:
    modules = {module_name(path): path for path in CORE.rglob("*.py")}
    return {
        name: [(target, line) for target, line in imports(path) if target in modules and target != name]
        for name, path in modules.items()
    }


def test_every_core_module_has_a_job():
    unplaced = [m for m in graph() if m != "seqkit" and (m.split(".")[1] not in PACKAGES and m not in JOB)]
    assert not unplaced, f"give these a job (a package, or FLAT in this test): {unplaced}"


def test_imports_between_jobs_go_one_way():
    wrong = [
        f"{module} ({job_of(module)}) imports {target} ({job_of(target)}) at line {line}"
        for module, targets in graph().items()
        if module != "seqkit"
        for target, line in targets
        if target != "seqkit" and job_of(target) != job_of(module) and job_of(target) not in ALLOWED[job_of(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_even_through_function_level_imports():
    edges = {m: {t for t, _ in targets if t != "seqkit"} for m, targets in graph().items() if m != "seqkit"}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_layer_library_never_imports_lightning():
    for path in (CORE / "rnn").rglob("*.py"):
        for target, line in imports(path):
            assert not target.startswith(("pytorch_lightning", "lightning")), f"{path.name}:{line} imports {target}"


def test_jobs_are_listed_in_order():
    for job, allowed in ALLOWED.items():
        assert all(LEVELS.index(other) < LEVELS.index(job) for other in allowed), job


def test_old_module_paths_are_the_moved_modules():
    """Scripts, tests and pickles may name a module where it was before the move into its package."""
    import importlib
    import pickle

    from seqkit.moved import MOVED
    from seqkit.rnn.regularizers import Regularizers

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    saved = pickle.dumps(Regularizers(zoneout=0.5), protocol=0)
    saved = saved.replace(b"seqkit.rnn.regularizers", b"seqkit.regularizers")  # as pickled before the move
    assert b"cseqkit.regularizers\n" in saved and pickle.loads(saved) == Regularizers(zoneout=0.5)
