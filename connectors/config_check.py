"""The files a site configuration refers to: every device's register map must load.

`kv config check` reports these with the configuration's own problems, and `kv run` refuses to
start on them (before, a missing register map passed the check and `kv run` died with a
traceback when it built the poller).
"""

from __future__ import annotations

from connectors.registermap import DataType, RegisterMapError, load_register_map
from energy.config import CONTROL_BOX_ID, ConfigIssue
from energy.site import Site

__all__ = ["referenced_file_issues"]


def referenced_file_issues(site: Site) -> list[ConfigIssue]:
    """One issue per problem in a referenced file, naming the device and the register map;
    the control box's contacts must be digital inputs of its map."""
    issues: list[ConfigIssue] = []
    config_file = str(site.config.source_path or "site configuration")
    endpoints = [(a.id, a.device) for a in site.devices() if a.device is not None]
    signals = site.config.grid_signals
    box = signals.control_box if signals is not None else None
    if box is not None:
        endpoints.append((CONTROL_BOX_ID, box.device))
    for device_id, endpoint in endpoints:
        where = f"device {device_id}: register_map {endpoint.register_map!r}"
        try:
            register_map = load_register_map(endpoint.register_map, device=device_id)
        except RegisterMapError as exc:
            issues.extend(
                ConfigIssue(
                    file=config_file,
                    key_path=where,
                    expected=f"a valid register map ({issue.expected})",
                    found=f"{issue.file}: {issue.key_path}: {issue.found}",
                )
                for issue in exc.issues
            )
            continue
        if box is not None and device_id == CONTROL_BOX_ID:
            issues.extend(
                ConfigIssue(
                    file=config_file,
                    key_path=f"grid_signals.control_box.contacts: point {c.point!r}",
                    expected=f"a bool point of {where}",
                    found="no such point"
                    if c.point not in register_map.by_name
                    else f"dtype {register_map.point(c.point).dtype.value}",
                )
                for c in box.contacts
                if c.point not in register_map.by_name
                or register_map.point(c.point).dtype is not DataType.BOOL
            )
    return issues
