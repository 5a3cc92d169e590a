"""Message catalogues read from gettext .po files with Babel at start, without a compile step.

Shared by the console (energy.web.i18n) and the notifications (energy.notify), which keep their
own catalogues: the control loop that sends notifications must not import the web layer.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["po_translations"]


def po_translations(po: Path, language: str) -> gettext_module.NullTranslations:
    """The translations of one language from `po` (English, or no such file: the identity)."""
    if language == "en" or not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)
