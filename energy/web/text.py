"""Text that both backends can store and every response can encode.

PostgreSQL refuses NUL in text; neither backend (nor UTF-8) can hold a lone surrogate, which
Python strings decoded from JSON (`"\\ud800"`) may contain; control characters have no place in
names, reasons or messages. Inputs are checked before they reach the store, and anything echoed
back in an error is made encodable first.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["encodable", "text_problem"]

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def text_problem(value: str, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored as text (None: it can). Tabs and line breaks pass only
    when `multiline`."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            return f"a lone surrogate (U+{ord(char):04X}) at character {position}"
        if char == "\x00":
            return f"a NUL character at character {position}"
        if category == "Cc" and not (multiline and char in _ALLOWED_CONTROLS):
            return f"a control character (U+{ord(char):04X}) at character {position}"
    return None


def encodable(value: Any) -> Any:
    """`value` with every string made UTF-8 encodable (lone surrogates as \\udxxx escapes)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value
