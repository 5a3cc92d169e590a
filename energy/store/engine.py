"""The Store: one SQLAlchemy engine for SQLite (default) or PostgreSQL, plus its migrations.

The database URL comes from, in this order: the KV_DATABASE_URL environment variable, the site
config's store.url, else a SQLite file `klimaviertel.sqlite` under the store.data_dir (relative paths
are taken from the working directory; KV_DATA_DIR overrides the directory).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url

from energy.config import SiteConfig

__all__ = ["Store", "StoreError", "database_url_for"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(RuntimeError):
    """The store cannot be used as asked (wrong URL, not migrated, unreachable)."""


def database_url_for(site: SiteConfig | None) -> str:
    """Resolve the database URL for a site (see the module docstring for the order)."""
    env_url = os.environ.get("KV_DATABASE_URL")
    if env_url:
        return env_url
    if site is not None and site.store.url:
        return site.store.url
    data_dir = Path(os.environ.get("KV_DATA_DIR") or (site.store.data_dir if site else "data"))
    return f"sqlite:///{data_dir / 'klimaviertel.sqlite'}"


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


@dataclass
class Store:
    """A handle on the platform's database. Thread-safe; share one per process."""

    engine: Engine
    _series_ids: dict[tuple[str, str, str], int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Store:
        url = _normalise_url(url)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, **engine_kwargs
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(url, pool_pre_ping=True, **engine_kwargs)
        else:
            raise StoreError(
                f"database URL {parsed.render_as_string()!r}: expected sqlite:/// or "
                f"postgresql://, found backend {parsed.get_backend_name()!r}"
            )
        return cls(engine=engine)

    @classmethod
    def for_site(cls, site: SiteConfig | None) -> Store:
        return cls.from_url(database_url_for(site))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations -------------------------------------------------------------------------

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (default: the newest). Safe to run repeatedly."""
        from alembic import command

        command.upgrade(self._alembic_config(), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def require_current(self) -> None:
        """Raise StoreError unless the schema is at the newest migration."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise StoreError(
                f"store {self.url} is at migration {current or 'none'}, expected {head}: "
                "run `kv db upgrade`"
            )

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    # -- series ids -------------------------------------------------------------------------

    def series_ids(
        self, site_id: str, keys: list[tuple[str, str, str]], create: bool = True
    ) -> dict[tuple[str, str], int]:
        """Ids of (asset_id, quantity, unit) series for a site, creating missing ones."""
        from energy.store.schema import series
        from energy.store.sql import insert_ignoring_duplicates

        wanted = {(site_id, a, q): u for a, q, u in keys}
        missing = [k for k in wanted if k not in self._series_ids]
        if missing:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(series.c.id, series.c.asset_id, series.c.quantity).where(
                        series.c.site_id == site_id
                    )
                ).all()
                known = {(site_id, r.asset_id, r.quantity): r.id for r in rows}
                new = [k for k in missing if k not in known]
                if new and create:
                    conn.execute(
                        insert_ignoring_duplicates(series, self.dialect),
                        [
                            {"site_id": s, "asset_id": a, "quantity": q, "unit": wanted[(s, a, q)]}
                            for s, a, q in new
                        ],
                    )
                    rows = conn.execute(
                        select(series.c.id, series.c.asset_id, series.c.quantity).where(
                            series.c.site_id == site_id
                        )
                    ).all()
                    known = {(site_id, r.asset_id, r.quantity): r.id for r in rows}
            self._series_ids.update(known)
        return {
            (a, q): self._series_ids[(s, a, q)]
            for (s, a, q) in wanted
            if (s, a, q) in self._series_ids
        }
