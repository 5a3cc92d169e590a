"""docs/datahub.md shows what the code publishes: its generated section equals the code's output."""

from __future__ import annotations

import json
import re
from pathlib import Path

from energy.datahub.examples import BEGIN, END, examples_markdown
from energy.site import Site

DOC = Path(__file__).parents[3] / "docs" / "datahub.md"


def test_the_generated_examples_are_current(site: Site) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == examples_markdown(site), (
        "docs/datahub.md is out of date: run python -m energy.datahub.examples --write docs/datahub.md"
    )


def test_the_examples_hold_no_house_without_consent(site: Site) -> None:
    section = examples_markdown(site)
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", section, re.S)]
    assert any(b.get("subject") == "house-02" for b in blocks)
    assert "house-03" not in section
    kinds = {b.get("kind") for b in blocks}
    assert {"measurements", "plan", "forecasts", "kpis", "weather"} <= kinds
