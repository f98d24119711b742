"""A migrated and seeded var dir to copy, so a test session starts on fresh databases without
running every migration and seed again (they take seconds; a copy takes milliseconds).

The template is keyed by everything that shapes it: the code of the three packages (path, size
and modification time of each file), the seed file, the apps' environment and the plugin's
own settings. Any change builds a new one; two sessions building the same one at once each
build in a private directory and the first to rename it wins."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGES = ("services", "gateway", "deploy")
ENV_PREFIXES = (
    "CITYHALL_",
    "GATEWAY_",
    "E_APPLICATION_",
    "FACILITY_BOOKING_",
    "ALERT_MAIL_",
    "PAYMENTS_MOCK_",
)
# The test harness's own variables (the plugin's options, the project's test settings) shape
# no app: a run with CITYHALL_PYTEST_DATABASE_SERVER set uses the same template as one with
# --cityhall-database-server.
HARNESS_VARIABLES = frozenset(
    {
        "CITYHALL_PYTEST_MODE",
        "CITYHALL_PYTEST_DATABASE_SERVER",
        "CITYHALL_TEST_POSTGRES_URL",
        "CITYHALL_REQUIRE_POSTGRES",
    }
)
SHAPING_SUFFIXES = {".py", ".json", ".mako", ".ini", ".sql"}


def template_key(seed_file: Path, settings: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in SHAPING_SUFFIXES and "__pycache__" not in path.parts:
                stat = path.stat()
                entry = f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n"
                digest.update(entry.encode())
    digest.update(seed_file.read_bytes())
    for name, value in sorted(os.environ.items()):
        if name.startswith(ENV_PREFIXES) and name not in HARNESS_VARIABLES:
            digest.update(f"{name}={value}\n".encode())
    digest.update(repr(sorted(settings.items())).encode())
    return digest.hexdigest()[:16]


STALE_AFTER_SECONDS = 3600  # older templates of other code versions are removed


def publish(built: Path, target: Path) -> None:
    """Moves the directory `built` to `target` unless another session got there first, and
    removes the templates of earlier code versions (not ones a session may be copying)."""
    try:
        built.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(built, ignore_errors=True)
    now = time.time()
    for old in target.parent.glob("template-*"):
        if old != target and now - old.stat().st_mtime > STALE_AFTER_SECONDS:
            shutil.rmtree(old, ignore_errors=True)


def build_dir(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="building-", dir=cache))


def copy_template(template: Path, var_dir: Path) -> None:
    shutil.copytree(template, var_dir, dirs_exist_ok=True)
