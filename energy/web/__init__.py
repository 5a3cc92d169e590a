"""Operator web interface and REST API (FastAPI): create_app(site, store, settings)."""

from energy.web.app import create_app
from energy.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
