"""The README's commands work: every block marked `# readme-test: cli` runs as written, and
every `# readme-test: live` block runs against the suite (in-process services behind a real
gateway server on a free port, seeded with the demo identities). `uv run X` runs X from this
environment. And every `CITYHALL_` variable the code reads is documented."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.stack import LauncherSettings
from tests.support.served import served
from tests.support.suite import in_process_suite

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
BLOCK = re.compile(r"```sh\n# readme-test: (cli|live)\n(.*?)```", re.DOTALL)
UV_SHIM = '#!/bin/sh\nif [ "$1" = run ]; then shift; fi\nexec "$@"\n'


def blocks(kind: str) -> list[str]:
    return [
        body for found, body in BLOCK.findall(README.read_text(encoding="utf-8")) if found == kind
    ]


def _prepare(workdir: Path) -> dict[str, str]:
    shims = workdir / "bin"
    shims.mkdir(parents=True, exist_ok=True)
    uv = shims / "uv"
    uv.write_text(UV_SHIM, encoding="utf-8")
    uv.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "CITYHALL_"))}
    env["PATH"] = f"{shims}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    return env


async def run_block(script: str, workdir: Path, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, (
        f"README block failed:\n{script}\n--- output:\n{output.decode()}"
    )


def test_the_readme_has_tested_blocks_of_both_kinds() -> None:
    assert len(blocks("cli")) >= 2
    assert len(blocks("live")) >= 4


@pytest.mark.parametrize("index", range(len(blocks("cli"))))
async def test_cli_blocks_run_as_written(index: int, tmp_path: Path) -> None:
    env = await asyncio.to_thread(_prepare, tmp_path)
    await run_block(blocks("cli")[index], tmp_path, env)


@pytest.fixture
async def gateway_url(tmp_path: Path) -> AsyncIterator[str]:
    async with (
        in_process_suite(tmp_path, var_dir=tmp_path / "var") as suite,
        served(suite.gateway, front_door=True) as url,
    ):
        yield url


async def test_live_blocks_run_against_the_suite(gateway_url: str, tmp_path: Path) -> None:
    env = await asyncio.to_thread(_prepare, tmp_path)
    env["GATEWAY"] = gateway_url
    env["GATEWAY_VAR_DIR"] = str(tmp_path / "var")
    for script in blocks("live"):
        await run_block(script, tmp_path, env)


def test_every_cityhall_variable_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    read_by_code: set[str] = set()
    for folder in ("deploy", "services", "gateway", "tests", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ""}:
                content = path.read_text(encoding="utf-8", errors="ignore")
                read_by_code.update(re.findall(r"CITYHALL_[A-Z][A-Z_]*[A-Z]", content))
    launcher = {f"CITYHALL_{name.upper()}" for name in LauncherSettings.model_fields}
    undocumented = sorted(v for v in read_by_code | launcher if f"`{v}`" not in text)
    assert not undocumented, f"not in the README: {undocumented}"
