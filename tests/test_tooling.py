"""The checks that encode the project's taste, run with the suite: lint, strict types on the contracts,
schemas folder free of runtime frameworks, GPU-only imports confined to engines/ and lazy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "operators", "engines", "pipeline", "load_tests")


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_ruff_lint_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *PACKAGES, "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_strict_on_schemas() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "schemas"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


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
