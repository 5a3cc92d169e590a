"""Where the default site and the register maps are found, with or without a checkout.

In a checkout (and an editable install) they are the repository's top-level config/ folder. An
installed wheel carries the same folder as the package data energy/shipped_config/ (setup.py maps
it), found through importlib.resources. `write_default_site` gives a new deployment its own,
editable copy of the default site (`kv init DIR`).
"""

from __future__ import annotations

import logging
import shutil
from importlib import resources
from pathlib import Path

__all__ = ["DEFAULT_SITE_FILE", "DefaultSiteError", "default_config_dir", "write_default_site"]

logger = logging.getLogger(__name__)

#: the default site's file name, inside the config folder
DEFAULT_SITE_FILE = "klimaviertel.yaml"
_SHIPPED = "shipped_config"


class DefaultSiteError(ValueError):
    """The default site cannot be written where asked."""


def default_config_dir() -> Path:
    """The folder of the default site and of registermaps/: shipped in the wheel, else config/."""
    shipped = resources.files("energy") / _SHIPPED
    if isinstance(shipped, Path) and (shipped / DEFAULT_SITE_FILE).is_file():
        return shipped
    return Path(__file__).resolve().parent.parent / "config"


def write_default_site(
    directory: Path, *, source: Path | None = None, overwrite: bool = False
) -> Path:
    """Copy the default site's YAML (or `source`) into `directory` (created); return the copy.

    Register maps are not copied: the site names them by file name, and bare names resolve to the
    shipped maps, so that they update with the platform. An existing file is kept unless
    `overwrite`, so that an edited site is never lost.
    """
    source = source or default_config_dir() / DEFAULT_SITE_FILE
    target = directory / source.name
    if not source.is_file():
        raise DefaultSiteError(f"{source}: no such site file")
    if target.exists() and not overwrite:
        raise DefaultSiteError(f"{target}: exists; keeping it (--force replaces it)")
    if directory.exists() and not directory.is_dir():
        raise DefaultSiteError(f"{directory}: exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        raise DefaultSiteError(f"{target}: cannot write ({exc.strerror})") from exc
    logger.info("default site written to %s", target)
    return target
