"""The checks that encode the project's taste, run with the suite: lint, strict types on every package,
schemas folder free of runtime frameworks, GPU-only imports confined to engines/ and lazy."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "operators", "engines", "pipeline", "load_tests")
# Lower layers never import higher ones: schemas < engines < operators < pipeline < load_tests (tests on top).
LAYERS = {"schemas": 0, "engines": 1, "operators": 2, "pipeline": 3, "load_tests": 4}


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_ruff_lint_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *PACKAGES, "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports (module level, lazy, TYPE_CHECKING), with its line number."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_no_upward_imports() -> None:
    offenders = []
    for layer, rank in LAYERS.items():
        for path in _python_files(layer):
            for line, module in _imported_modules(path):
                parts = module.split(".")
                if parts[0] == "guardstream" and len(parts) > 1 and LAYERS.get(parts[1], -1) > rank:
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_imports_use_the_guardstream_namespace() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _python_files(*PACKAGES, "tests")
        for line, module in _imported_modules(path)
        if module.split(".")[0] in LAYERS
    ]
    assert offenders == []


def test_every_package_folder_is_installed() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        "guardstream." + ".".join(folder.relative_to(ROOT).parts)
        for folder in {p.parent for p in _python_files(*PACKAGES)}
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def mypy_strict(packages: tuple[str, ...], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """mypy --strict as `make typecheck` runs it: tools/typecheck.py, over a `guardstream/` tree of links to the
    folders (mypy does not run setuptools' editable import hook)."""
    cmd = [sys.executable, str(ROOT / "tools" / "typecheck.py"), "--cache-dir", str(tmp_path / ".mypy_cache")]
    return subprocess.run([*cmd, *packages], cwd=ROOT, capture_output=True, text=True)


def test_mypy_strict_schemas(tmp_path: Path) -> None:
    result = mypy_strict(("schemas",), tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


@pytest.mark.slow  # about a minute of CPU from a cold cache
def test_mypy_strict(tmp_path: Path) -> None:
    """Every package, in one mypy run."""
    result = mypy_strict(PACKAGES, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_schemas_import_no_runtime_framework() -> None:
    banned = re.compile(r"^\s*(import|from)\s+(apache_beam|ray|torch|transformers)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in _python_files("schemas") if banned.search(p.read_text())]
    assert offenders == []


def test_engines_do_not_import_beam() -> None:
    banned = re.compile(r"^\s*(import|from)\s+apache_beam\b", re.M)
    assert [p.name for p in _python_files("engines") if banned.search(p.read_text())] == []


def test_gpu_only_imports_are_lazy_and_inside_engines() -> None:
    gpu = re.compile(r"^(\s*)(import|from)\s+(tensorrt|triton|pycuda|cuda)\b", re.M)
    for path in _python_files(*PACKAGES):
        for match in gpu.finditer(path.read_text()):
            assert path.is_relative_to(ROOT / "engines"), f"GPU import outside engines/: {path}"
            assert match.group(1), f"module-level GPU import (must be lazy): {path}"
