"""The one check of the http(s) URLs that site configuration files carry (feeds, hub, console)."""

from __future__ import annotations

__all__ = ["check_http_url"]


def check_http_url(value: str) -> str:
    """`value` if it is an http:// or https:// URL; a ValueError naming it otherwise."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, found {value!r}")
    return value
