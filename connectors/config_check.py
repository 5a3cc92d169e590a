"""The files a site configuration refers to: every device's register map must load.

`kv config check` reports these with the configuration's own problems, and `kv run` refuses to
start on them (before, a missing register map passed the check and `kv run` died with a
traceback when it built the poller).
"""

from __future__ import annotations

from connectors.registermap import RegisterMapError, load_register_map
from energy.config import ConfigIssue
from energy.site import Site

__all__ = ["referenced_file_issues"]


def referenced_file_issues(site: Site) -> list[ConfigIssue]:
    """One issue per problem in a referenced file, naming the device and the register map."""
    issues: list[ConfigIssue] = []
    config_file = str(site.config.source_path or "site configuration")
    for asset in site.devices():
        assert asset.device is not None
        try:
            load_register_map(asset.device.register_map, device=asset.id)
        except RegisterMapError as exc:
            issues.extend(
                ConfigIssue(
                    file=config_file,
                    key_path=f"device {asset.id}: register_map {asset.device.register_map!r}",
                    expected=f"a valid register map ({issue.expected})",
                    found=f"{issue.file}: {issue.key_path}: {issue.found}",
                )
                for issue in exc.issues
            )
    return issues
