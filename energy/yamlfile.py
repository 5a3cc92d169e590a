"""YAML for configuration files: like yaml.safe_load, but a key repeated in one mapping is an
error naming both lines (PyYAML keeps the last silently, so a typo'd duplicate hides the first)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode

__all__ = ["DuplicateKeyError", "load_yaml"]


class DuplicateKeyError(yaml.YAMLError):
    """A key given twice in one mapping; lines are 1-based."""

    def __init__(self, key: object, first_line: int, second_line: int):
        self.key = key
        self.first_line = first_line
        self.second_line = second_line
        super().__init__(
            f"key {key!r} given twice in one mapping: line {first_line} and line {second_line}"
        )


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: construct_mapping reports it
                continue
            if first is not None and key != "<<":
                raise DuplicateKeyError(key, first, line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely; raises DuplicateKeyError or yaml.YAMLError."""
    return yaml.load(text, Loader=_StrictLoader)
