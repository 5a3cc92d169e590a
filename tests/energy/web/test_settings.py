"""Where the session secret comes from, and the login rate limiter on its own."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from energy.web.ratelimit import LoginRateLimiter
from energy.web.settings import SECRET_FILE_NAME, resolve_secret_key


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KV_SECRET_KEY", raising=False)
    monkeypatch.delenv("KV_SECRET_FILE", raising=False)


def test_secret_from_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KV_SECRET_KEY", "e" * 40)
    assert resolve_secret_key(tmp_path) == "e" * 40
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_short_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KV_SECRET_KEY", "short")
    with pytest.raises(ValueError, match="KV_SECRET_KEY: expected at least 32"):
        resolve_secret_key(tmp_path)


def test_secret_from_a_named_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere" / "secret"
    monkeypatch.setenv("KV_SECRET_FILE", str(path))
    with pytest.raises(FileNotFoundError, match="KV_SECRET_FILE"):
        resolve_secret_key(tmp_path)
    path.parent.mkdir()
    path.write_text("f" * 48 + "\n")
    assert resolve_secret_key(tmp_path) == "f" * 48


def test_secret_is_generated_once_with_owner_only_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = resolve_secret_key(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "generated a new session secret" in caplog.text
    assert resolve_secret_key(tmp_path / "data") == first
    assert len(first) >= 32


def test_rate_limiter_counts_per_key_within_the_window() -> None:
    now = [dt.datetime(2026, 11, 24, tzinfo=dt.UTC)]
    limiter = LoginRateLimiter(3, 60, lambda: now[0])
    for _ in range(3):
        limiter.record_failure(["user:a", "addr:1"])
    assert limiter.blocked(["user:a"])
    assert limiter.blocked(["user:b", "addr:1"])
    assert not limiter.blocked(["user:b", "addr:2"])
    now[0] += dt.timedelta(seconds=30)
    assert limiter.retry_after_s(["user:a"]) == 30
    limiter.reset("user:a")
    assert not limiter.blocked(["user:a"])
    now[0] += dt.timedelta(seconds=30)
    assert not limiter.blocked(["addr:1"])
