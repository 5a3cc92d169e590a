"""Which clients may tell the web server who the real client is (X-Forwarded-For).

The login rate limit and the audit log use the client address. Believing X-Forwarded-For from
anybody would let a client pick its own address (and so escape the per-address limit and write
any address into the audit log); uvicorn's default believes it from 127.0.0.1, which under
`kv run` is every local process. The headers are honoured only from the configured
`web.trusted_proxies`, and from nobody by default.
"""

from __future__ import annotations

from typing import Any

from energy.site import Site

__all__ = ["uvicorn_proxy_options"]


def uvicorn_proxy_options(site: Site) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config / uvicorn.run."""
    trusted = site.config.web.trusted_proxies
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}
