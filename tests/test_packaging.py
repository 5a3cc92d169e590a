"""Installing the platform like a product: the lock covers the declared dependencies, and the
built wheel, installed with the lock's constraints into a fresh virtual environment outside the
repository, writes a site, checks it, evaluates it and runs the platform on it (about 2 minutes
on 2 shared cores, most of it `kv evaluate` and `kv run` starting)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
#: top-level folders that are no source of the wheel (the store, builds, the environment)
_NOT_SOURCE = {".venv", ".git", "build", "data", "dist", "out", "test-artifacts"}


def _not_source(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if (top and n in _NOT_SOURCE) or n == "__pycache__"}


def _locked() -> dict[str, str]:
    versions = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            versions[canonicalize_name(name)] = rest.split(";")[0].strip()
    return versions


def test_every_declared_dependency_is_locked_within_its_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    locked = _locked()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock has {name}=={locked[name]}, outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_the_makefile_installs_the_lock_without_skipping_dependencies() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--no-deps" not in makefile
    assert "--constraint $(LOCK)" in makefile


def _run(args: list[str], cwd: Path, timeout_s: float = 300) -> str:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=_clean_env()
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the checkout leak into the new venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("KV_DATABASE_URL", None)
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # built from a copy: setuptools builds in the source tree, which stays untouched
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_not_source)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    _run([*build, "-w", str(dist), str(source)], cwd=tmp_path)
    wheel = next(dist.glob("klimaviertel-*.whl"))
    # uv (a dev dependency) installs from its cache, offline once the locked wheels are in it
    uv = str(Path(sys.executable).parent / "uv")
    _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    _run(
        [uv, "pip", "install", "-q", "--python", python, "-c", str(LOCK), str(wheel)], cwd=tmp_path
    )
    kv = str(venv / "bin" / "kv")
    where = _run(
        [python, "-c", "import energy.config as c; print(c.CONFIG_DIR)"],
        cwd=work,
    )
    assert where.strip().startswith(str(venv)), where  # the shipped copy, not the checkout

    assert "wrote site/klimaviertel.yaml" in _run([kv, "init", "site"], cwd=work)
    site = "site/klimaviertel.yaml"
    assert "7 houses" in _run([kv, "config", "check", site], cwd=work)
    evaluated = _run(
        [
            kv,
            "evaluate",
            "--policy",
            "rule-tuned",
            "--from",
            "2026-01-15",
            "--to",
            "2026-01-15T03:00",
            "-c",
            site,
            "--out",
            "ev",
        ],
        cwd=work,
    )
    assert "wrote ev/summary.json" in evaluated
    assert (work / "ev" / "totals.csv").stat().st_size > 0

    port = _free_port()
    run = subprocess.Popen(
        [kv, "run", "--config", site, "--speed", "60", "--port", str(port)],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(),
    )
    try:
        status = None
        for _ in range(120):
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200
    finally:
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=120)
    assert run.returncode == 0, output
    assert "stopped: devices released" in output
