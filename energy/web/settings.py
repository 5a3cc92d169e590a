"""Settings of the web application, and where its session secret comes from.

The secret that signs session cookies is taken, in this order, from KV_SECRET_KEY, from the file
named by KV_SECRET_FILE, else from `web-secret.key` in the data directory (KV_DATA_DIR or the site's
store.data_dir, which is outside the tracked files of the repository); that file is created with
permissions 0600 on first use.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from energy.site import Site

__all__ = ["SECRET_FILE_NAME", "WebSettings", "resolve_secret_key"]

log = logging.getLogger(__name__)

SECRET_FILE_NAME = "web-secret.key"
_MIN_SECRET_LENGTH = 32


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def data_dir_for(site: Site) -> Path:
    return Path(os.environ.get("KV_DATA_DIR") or site.config.store.data_dir)


def resolve_secret_key(data_dir: Path) -> str:
    """The session signing secret (see the module docstring for where it comes from)."""
    from_env = os.environ.get("KV_SECRET_KEY")
    if from_env:
        if len(from_env) < _MIN_SECRET_LENGTH:
            raise ValueError(
                f"KV_SECRET_KEY: expected at least {_MIN_SECRET_LENGTH} characters, "
                f"found {len(from_env)}"
            )
        return from_env
    file_name = os.environ.get("KV_SECRET_FILE")
    path = Path(file_name) if file_name else data_dir / SECRET_FILE_NAME
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) < _MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret file {path}: expected at least {_MIN_SECRET_LENGTH} characters, "
                f"found {len(secret)}"
            )
        return secret
    if file_name:
        raise FileNotFoundError(f"KV_SECRET_FILE names {path}, which does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    log.warning("generated a new session secret in %s (permissions 0600)", path)
    return secret


@dataclass
class WebSettings:
    """Tunables of the operator interface. secret_key None: resolved as the module says."""

    secret_key: str | None = None
    session_max_age_s: int = 8 * 3600
    https_only_cookies: bool = False
    login_max_failures: int = 5
    login_window_s: int = 300
    stale_after_s: float = 60.0
    """A polled measurement older than this is amber on the status page; older than 5x this, red."""
    derived_margin_s: float = 300.0
    """How late a derived per-slot series may be after its next slot is due (energy.web.freshness)."""
    max_override_hours: float = 24.0
    default_language: str = "de"
    """The console's language when neither the user's choice nor the browser names a supported
    one (energy.web.i18n): the Klimaviertel's operators speak German."""
    forecast_jobs: tuple[str, ...] = ("forecast", "retrain")
    solve_jobs: tuple[str, ...] = ("optimize", "solve", "plan")
    clock: Callable[[], dt.datetime] = field(default=_utc_now, repr=False)
    """Current time (UTC, aware) of the platform: an accelerated simulation passes its own."""
    store_outage: Callable[[], str | None] = field(default=lambda: None, repr=False)
    """A store outage in progress as the control loop sees it (None: none); `kv run` passes it,
    so that pages show the outage instead of failing."""
    wall_clock: Callable[[], dt.datetime] = field(default=_utc_now, repr=False)
    """Real time for the login rate limit, which must not run faster in an accelerated
    simulation; tests replace it."""
