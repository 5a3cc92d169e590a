"""`kv serve`: the operator web interface and REST API on uvicorn."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store
from energy.store.users import list_users
from energy.web import WebSettings, create_app

__all__ = ["serve"]

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (default: loopback only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8080,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--plain-cookies",
            help="Send the session cookie over HTTPS only (behind a TLS proxy).",
        ),
    ] = False,
) -> None:
    """Serve the operator interface (/status, /plans, /audit) and the API (/api/openapi.json).

    The store must be migrated (`kv db upgrade`). The session secret comes from KV_SECRET_KEY or
    KV_SECRET_FILE, else it is generated once into the data directory. Create the first user with
    `kv user add NAME --role admin`.
    """
    import uvicorn

    from energy.web.proxies import uvicorn_proxy_options

    site = load_site_or_exit(config)
    store = open_store(site, url)
    if host not in LOOPBACK and not secure_cookies:
        log.warning(
            "listening on %s with cookies allowed over plain HTTP: put a TLS proxy in front and "
            "pass --secure-cookies",
            host,
        )
    if not list_users(store):
        typer.echo(
            "kv serve: no users yet; nobody can log in until you run "
            "`kv user add NAME --role admin`",
            err=True,
        )
    app = create_app(site, store, WebSettings(https_only_cookies=secure_cookies))
    typer.echo(f"serving {site.config.name} on http://{host}:{port}/ (store {store.url})")
    uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_proxy_options(site))
