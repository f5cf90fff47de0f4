"""mypy --strict over every package, by its installed name (`guardstream.<folder>`).

The folders install under the `guardstream.` namespace through setuptools' editable import hook, which mypy does
not run; so this builds a `guardstream/` tree of links to the folders (as the wheel lays them out) beside mypy's
cache and points MYPYPATH at it. The configuration (strict, per-dependency overrides) is pyproject's `[tool.mypy]`.

    python tools/typecheck.py [--cache-dir DIR] [PACKAGE ...]   # default: every package; exit status is mypy's
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "engines", "operators", "pipeline", "load_tests")


def link_tree(folder: Path) -> Path:
    """`folder/guardstream/<package>` → the package folders (kept when already right); returns `folder`."""
    tree = folder / "guardstream"
    tree.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        link = tree / package
        if not (link.is_symlink() and link.readlink() == ROOT / package):
            link.unlink(missing_ok=True)
            link.symlink_to(ROOT / package, target_is_directory=True)
    return folder


def mypy_strict(
    packages: tuple[str, ...] = PACKAGES, cache_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run mypy on `packages` (folder names); output is captured, paths reported relative to the repository.

    The tree of links lives beside the cache (`<cache_dir>/links`): a fixed path keeps mypy's cache valid."""
    cache = (cache_dir or ROOT / ".mypy_cache").resolve()
    tree = link_tree(cache / "links")
    args = [arg for package in packages for arg in ("-p", f"guardstream.{package}")]
    env = {**os.environ, "MYPYPATH": str(tree)}
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    result.stdout = result.stdout.replace(f"{tree / 'guardstream'}{os.sep}", "")  # e.g. operators/infer.py
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="mypy --strict over every guardstream package")
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help=f"any of {', '.join(PACKAGES)} (default: all)")
    parser.add_argument("--cache-dir", type=Path, help="mypy's incremental cache (default: .mypy_cache)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.packages) - set(PACKAGES))
    if unknown:
        parser.error(f"unknown package(s) {', '.join(unknown)}; choose from {', '.join(PACKAGES)}")
    result = mypy_strict(tuple(args.packages) or PACKAGES, args.cache_dir)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
