"""Bytecode for the project and its virtual environment, written once instead of compiled from
source by every process at every start.

With PYTHONDONTWRITEBYTECODE (common in containers, and set on the suite's CI machines) Python
reads `.pyc` files but never writes them: each `cityhall up` child and each test session
using the pytest plugin would compile every module it imports (about 0.4 s of CPU for the
project alone). An up-to-date tree costs a stat per file; the virtual environment, much larger,
is looked at only when its directory changed (a package added or removed) since the last look.
(uv's own `compile-bytecode` setting recompiles the whole environment at every `uv run`,
astral-sh/uv#12202, so it is not set in pyproject.toml.)

Standard library only: the pytest plugin calls it before it imports anything of the suite.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import sys
import sysconfig
from pathlib import Path

PROJECT_PACKAGES = ("services", "gateway", "deploy")
ROOT = Path(__file__).resolve().parent.parent


def _compile(tree: Path, *, workers: int = 1) -> None:
    """`workers=0`: one process per core (worth it for the environment's first compile; a
    pool costs more than checking an up-to-date project)."""
    if tree.is_dir() and os.access(tree, os.W_OK):
        compileall.compile_dir(tree, quiet=2, workers=workers)


def _environment() -> Path | None:
    """The virtual environment's site-packages, when there is one (ours to write into)."""
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sysconfig.get_paths()["purelib"])


def byte_compile(*, marker_dir: Path | None = None) -> None:
    """Writes missing or stale bytecode of the project packages and of the virtual environment.

    With `marker_dir`, the environment is compiled only when its site-packages directory has
    changed since the marker left there by the last compile (a stat instead of thousands)."""
    if not sys.flags.dont_write_bytecode:
        return
    for package in PROJECT_PACKAGES:
        _compile(ROOT / package)
    environment = _environment()
    if environment is None or not environment.is_dir():
        return
    if marker_dir is None:
        _compile(environment, workers=0)
        return
    stat = environment.stat()
    seen = f"{environment}:{stat.st_mtime_ns}".encode()
    marker = marker_dir / f"bytecode-{hashlib.sha256(seen).hexdigest()[:16]}"
    if marker.exists():
        return
    _compile(environment, workers=0)
    marker_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()
