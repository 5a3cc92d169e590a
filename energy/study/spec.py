"""The study spec: which site variants, policies, periods and seeds to evaluate.

A study file (YAML) has one top-level key, `study`:

    study:
      name: klimaviertel-concepts
      base: ../../config/klimaviertel.yaml   # relative to the study file; default: shipped site
      variants:                              # named overlays on the base (energy.study.overlay)
        - name: as-built
        - name: no-battery
          overlay: {"houses.*.battery": null}
      grids:                                 # families of variants, one per combination
        - name: "battery-{capacity}kWh"
          parameters:
            capacity: {key: houses.*.battery.capacity_kwh, values: [5, 15]}
      policies: [rule-tuned, rule, mpc]
      periods: [{name: march-day, from: 2026-03-02, to: 2026-03-03}]
      seeds: [0]
      options: {training_days: 14}

Every (variant, policy, period, seed) is one task (`energy.study.tasks`). Validation names the
file and the key path of every problem; each variant's site is validated as a site file is.
"""

from __future__ import annotations

import itertools
import string
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from energy.config import (
    DEFAULT_SITE_CONFIG,
    ConfigIssue,
    SiteConfig,
    issues_from_validation_error,
)
from energy.evaluation.closed_loop import Policy
from energy.study.overlay import OverlayError, apply_overlay

__all__ = [
    "GridSpec",
    "PeriodSpec",
    "StudyOptions",
    "StudySpec",
    "StudySpecError",
    "VariantSpec",
    "load_study_spec",
    "parse_study_spec",
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)]


class StudySpecError(ValueError):
    """A study spec that cannot be run; carries every issue found."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{len(issues)} problem(s) in study spec:\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VariantSpec(_Model):
    name: Name
    overlay: dict[str, Any] = Field(default_factory=dict)


class GridParameter(_Model):
    key: str
    values: list[Any] = Field(min_length=1)


class GridSpec(_Model):
    """Variants from every combination of the parameters' values, named by the template."""

    name: str
    overlay: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, GridParameter] = Field(min_length=1)

    @model_validator(mode="after")
    def _template_names_parameters(self) -> GridSpec:
        fields = {f for _, f, _, _ in string.Formatter().parse(self.name) if f is not None}
        if fields != set(self.parameters):
            raise ValueError(
                f"a name template with the parameters' names as placeholders "
                f"({', '.join('{' + p + '}' for p in self.parameters)}); {self.name!r} has "
                f"{sorted(fields) or 'none'}"
            )
        return self

    def variants(self) -> list[VariantSpec]:
        names = list(self.parameters)
        out = []
        for combo in itertools.product(*(self.parameters[n].values for n in names)):
            chosen = dict(zip(names, combo, strict=True))
            overlay = {**self.overlay}
            overlay.update({self.parameters[n].key: chosen[n] for n in names})
            out.append(VariantSpec(name=self.name.format(**chosen), overlay=overlay))
        return out


class PeriodSpec(_Model):
    name: Name
    start: Annotated[pd.Timestamp, Field(alias="from")]
    end: Annotated[pd.Timestamp, Field(alias="to")]

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _utc_slot(cls, value: Any) -> pd.Timestamp:
        stamp = pd.Timestamp(str(value))
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if stamp != stamp.floor("15min"):
            raise ValueError("a 15-minute slot boundary (UTC)")
        return stamp

    @model_validator(mode="after")
    def _ordered(self) -> PeriodSpec:
        if self.end <= self.start:
            raise ValueError(f"'to' after 'from'; 'to' is {self.end}, 'from' {self.start}")
        return self


class StudyOptions(_Model):
    """The closed loop's options shared by every task (see EvaluationOptions)."""

    horizon_slots: Annotated[int, Field(ge=1)] = 96
    step_s: Annotated[float, Field(gt=0)] = 60.0
    forecast_every_slots: Annotated[int, Field(ge=1)] = 24
    training_days: Annotated[int, Field(ge=14)] = 365


class StudySpec(_Model):
    name: Name
    base: Path | None = None
    variants: list[VariantSpec] = Field(default_factory=list)
    grids: list[GridSpec] = Field(default_factory=list)
    policies: list[Policy] = Field(min_length=1)
    periods: list[PeriodSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    options: StudyOptions = Field(default_factory=StudyOptions)

    @field_validator("policies", mode="before")
    @classmethod
    def _known_policies(cls, value: Any) -> Any:
        known = {p.value for p in Policy}
        if isinstance(value, list):
            for item in value:
                if item not in known:
                    raise ValueError(f"each one of {', '.join(sorted(known))}; {item!r} is not one")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> StudySpec:
        for label, names in (
            ("variant", [v.name for v in self.all_variants()]),
            ("period", [p.name for p in self.periods]),
            ("policy", [p.value for p in self.policies]),
            ("seed", [str(s) for s in self.seeds]),
        ):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"unique {label} names; {sorted(seen)} repeated")
        if not self.all_variants():
            raise ValueError("at least one variant or grid")
        return self

    def all_variants(self) -> list[VariantSpec]:
        """The named variants, then each grid's, in spec order."""
        return [*self.variants, *(v for g in self.grids for v in g.variants())]


def _issue(file: str, key: str, expected: str, found: str) -> ConfigIssue:
    return ConfigIssue(file=file, key_path=key, expected=expected, found=found)


def parse_study_spec(
    data: Any, file: str, base_dir: Path, base: Path | None = None
) -> tuple[StudySpec, dict[str, dict[str, Any]]]:
    """Validate a study mapping; returns the spec and each variant's validated site data.

    base_dir resolves a relative `base`; base, where given, replaces the spec's. Raises StudySpecError listing every problem.
    """
    if not isinstance(data, dict) or "study" not in data:
        raise StudySpecError(
            [_issue(file, "(top level)", "a mapping with a 'study' key", type(data).__name__)]
        )
    body = data["study"]
    try:
        spec = StudySpec.model_validate(body)
    except ValidationError as exc:
        found = issues_from_validation_error(exc, file, body)
        for issue in found:
            issue.key_path = (
                "study" if issue.key_path == "(top level)" else f"study.{issue.key_path}"
            )
        raise StudySpecError(found) from exc
    if base is None and spec.base is not None:
        base = spec.base if spec.base.is_absolute() else base_dir / spec.base
    base_file = base if base is not None else DEFAULT_SITE_CONFIG
    try:
        base_data = yaml.safe_load(base_file.read_text(encoding="utf-8"))["site"]
    except (OSError, yaml.YAMLError, TypeError, KeyError) as exc:
        raise StudySpecError(
            [
                _issue(
                    file,
                    "study.base",
                    "a readable site file with a 'site' key",
                    f"{base_file}: {exc}",
                )
            ]
        ) from exc
    spec = spec.model_copy(update={"base": base_file.resolve()})
    sites: dict[str, dict[str, Any]] = {}
    issues: list[ConfigIssue] = []
    for variant in spec.all_variants():
        key = f"study.variants({variant.name}).overlay"
        try:
            site_data = apply_overlay(base_data, variant.overlay)
        except OverlayError as exc:
            issues.append(_issue(file, key, "a path into the base site", str(exc)))
            continue
        try:
            SiteConfig.model_validate(site_data)
        except ValidationError as exc:
            for issue in issues_from_validation_error(exc, file, site_data):
                issues.append(
                    _issue(
                        file,
                        f"{key} -> site.{issue.key_path}",
                        f"a valid site: {issue.expected}",
                        issue.found,
                    )
                )
            continue
        # files the site names relative to itself (price series) resolve against the base
        sites[variant.name] = {**site_data, "source_path": str(base_file.resolve())}
    if issues:
        raise StudySpecError(issues)
    return spec, sites


def load_study_spec(
    path: str | Path, base: Path | None = None
) -> tuple[StudySpec, dict[str, dict[str, Any]]]:
    """Read and validate a study file; see `parse_study_spec`."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudySpecError(
            [_issue(str(file), "(file)", "a readable YAML file", exc.strerror or str(exc))]
        ) from exc
    except yaml.YAMLError as exc:
        raise StudySpecError([_issue(str(file), "(file)", "valid YAML", str(exc))]) from exc
    return parse_study_spec(data, str(file), file.resolve().parent, base)
