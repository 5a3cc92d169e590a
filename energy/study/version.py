"""The code version a study ran with: package version and, in a git checkout, the commit."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["code_version"]


def code_version() -> str:
    """`klimaviertel 0.1.0 (git 1a2b3c4d, modified)` or without the git part outside a checkout."""
    try:
        text = f"klimaviertel {version('klimaviertel')}"
    except PackageNotFoundError:
        text = "klimaviertel (not installed)"
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return text
    return f"{text} (git {commit}{', modified' if dirty else ''})"
