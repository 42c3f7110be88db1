"""The tests' own layout (CONTRIBUTING.md, "Where tests live"): beside what they test, in folders that are packages."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ROOT

TESTS = ROOT / "tests"
# folders of tests of the whole product, and the third-party packages the tests install (they hold no tests)
PRODUCT = {"architecture", "docs", "security", "plugins", "thirdparty"}


def _folders(parent: Path) -> set[str]:
    return {p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}


def test_no_test_file_lies_at_the_top_of_tests():
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert not loose, f"move {loose} into the folder of the package or plugin each tests"


def test_every_folder_of_tests_is_a_package():
    # a folder without __init__.py would import its files by their bare names, clashing with any namesake elsewhere
    holding = {p.parent for p in TESTS.rglob("test_*.py") if "thirdparty" not in p.relative_to(TESTS).parts}
    missing = sorted(
        str(folder.relative_to(ROOT))
        for start in holding
        for folder in (start, *start.parents)
        if folder.is_relative_to(TESTS) and not (folder / "__init__.py").is_file()
    )
    assert not missing, f"these folders need an __init__.py (a docstring saying what they hold): {missing}"


def test_core_folders_are_named_after_seqkit_s_packages():
    packages = {p.name for p in (ROOT / "seqkit").iterdir() if (p / "__init__.py").is_file()}
    assert _folders(TESTS) - PRODUCT <= packages, f"tests/ folders are seqkit's packages or {sorted(PRODUCT)}"


def test_plugin_folders_are_named_after_the_built_in_plugins():
    plugins = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()}
    assert _folders(TESTS / "plugins") <= plugins, "tests/plugins/<name>/: name is a plugin's folder under plugins/"
