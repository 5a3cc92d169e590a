"""Tariff variants for `kv evaluate --tariff-config A.yaml --tariff-config B.yaml`.

A tariff file holds one `tariff:` section, as in the site YAML (energy.config.TariffConfig):

    tariff:
      kind: day_ahead
      supplier_margin_eur_per_kwh: 0.02
      fees_and_levies_eur_per_kwh: 0.12
      network_fee: {energy_price_eur_per_kwh: 0.08, module: modul_3, ...}
      vat_frac: 0.19
      day_ahead_prices_file: prices-2025.csv      # relative to this file
      feed_in_eur_per_kwh: 0.0786

The variant is the site with that tariff instead of its own, validated as a whole (so a §14a
Modul 2 list must name the site's devices), its relative files resolved from the tariff file.
Each variant is evaluated in closed loop: the planner plans with that tariff and the meters are
billed with it, so the figures answer "what would this district pay under tariff B".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from energy.config import ConfigIssue, SiteConfig, SiteConfigError, issues_from_validation_error
from energy.yamlfile import DuplicateKeyError, load_yaml

__all__ = ["TariffVariant", "load_tariff_variant"]


@dataclass(frozen=True)
class TariffVariant:
    """A named tariff (the file's stem) and the site configuration that uses it."""

    name: str
    config: SiteConfig


def _issue(file: str, key: str, expected: str, found: str) -> SiteConfigError:
    return SiteConfigError([ConfigIssue(file=file, key_path=key, expected=expected, found=found)])


def _read(path: Path) -> Any:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _issue(shown, "(file)", "a readable YAML file", exc.strerror or str(exc)) from exc
    try:
        data = load_yaml(text)
    except DuplicateKeyError as exc:
        raise _issue(
            shown, f"line {exc.second_line}", "each key once in a mapping", f"key {exc.key!r}"
        ) from exc
    except yaml.YAMLError as exc:
        raise _issue(shown, "(file)", "valid YAML", str(getattr(exc, "problem", exc))) from exc
    if not isinstance(data, dict) or set(data) != {"tariff"}:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise _issue(shown, "(top level)", "a mapping with one key 'tariff'", str(found))
    return data["tariff"]


def load_tariff_variant(path: str | Path, site: SiteConfig) -> TariffVariant:
    """The site with the tariff of `path` (SiteConfigError naming file, key, expected, found)."""
    file = Path(path)
    tariff = _read(file)
    site_data = site.model_dump(mode="json", exclude={"source_path"})
    site_data["tariff"] = tariff
    try:
        config = SiteConfig.model_validate(site_data)
    except ValidationError as exc:
        issues = issues_from_validation_error(exc, str(file), site_data)
        raise SiteConfigError(issues) from exc
    return TariffVariant(file.stem, config.model_copy(update={"source_path": file.resolve()}))
