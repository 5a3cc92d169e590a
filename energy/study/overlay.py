"""Overlays: a variant's changes to the base site, as dotted key paths into the `site` mapping.

`houses.*.battery: null` removes every house battery; `houses.0.battery.capacity_kwh: 15`
sizes the first community battery; `tariff.kind: flat` switches the tariff. A path segment is a
mapping key, a list index, or `*` (every item of a list). Every segment but the last must exist in
the base: a misspelt key is an error naming the path, never a silently added key (the last
segment may add a key the schema knows, such as an optional device part).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["OverlayError", "apply_overlay"]


class OverlayError(ValueError):
    """An overlay path that does not lead anywhere in the base site."""


def apply_overlay(site_data: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of site_data with every `path: value` of overlay set, in the order given."""
    result: dict[str, Any] = copy.deepcopy(dict(site_data))
    for path, value in overlay.items():
        segments = path.split(".")
        if not path or any(not s for s in segments):
            raise OverlayError(f"overlay key {path!r}: expected a dotted path such as tariff.kind")
        _set(result, segments, copy.deepcopy(value), path, [])
    return result


def _set(node: Any, segments: list[str], value: Any, path: str, walked: list[str]) -> None:
    head, rest = segments[0], segments[1:]
    where = ".".join(walked) or "site"
    if isinstance(node, list):
        if head == "*":
            indices = range(len(node))
        else:
            try:
                index = int(head)
            except ValueError:
                raise OverlayError(
                    f"overlay key {path!r}: {where} is a list; expected an index or '*'; "
                    f"found {head!r}"
                ) from None
            if not 0 <= index < len(node):
                raise OverlayError(
                    f"overlay key {path!r}: {where} has {len(node)} item(s); found index {index}"
                )
            indices = range(index, index + 1)
        for i in indices:
            if rest:
                _set(node[i], rest, copy.deepcopy(value), path, [*walked, str(i)])
            else:
                node[i] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        raise OverlayError(
            f"overlay key {path!r}: {where} is {node!r}, not a mapping or list; cannot set {head!r}"
        )
    if head == "*":
        raise OverlayError(
            f"overlay key {path!r}: '*' only selects list items; {where} is a mapping"
        )
    if not rest:
        node[head] = value
        return
    if head not in node or node[head] is None:
        known = ", ".join(sorted(str(k) for k in node)) or "none"
        raise OverlayError(
            f"overlay key {path!r}: {where} has no key {head!r} to descend into (known: {known})"
        )
    _set(node[head], rest, value, path, [*walked, head])
