"""Fault injection for the simulated devices: what can go wrong on a real Modbus line.

Per device (by asset id), any combination of:

- ``delay_s`` (with ``delay_probability``): slow answers; longer than the client's timeout it is
  a timeout;
- ``no_response_probability``: the request is swallowed (a timeout without a slow device);
- ``exception_code`` (with ``exception_probability``): answer with that Modbus exception;
- ``drop_after_requests`` / ``drop_probability``: close the TCP connection after N requests on
  it, or at random;
- ``frozen``: the registers stop following the physics (a hung device or gateway cache);
- ``values``: serve these engineering values (point name -> value) whatever the physics says,
  for example ``{soc: 250}`` for an implausible state of charge, or ``{di_1: true}`` for a
  closed contact of the control box's I/O module (asset id ``grid.control-box``).

Random faults draw from a generator seeded by the plan's seed and the asset id, so a run is
reproducible. A plan comes from YAML (``load_fault_plan``) or Python::

    seed: 7
    devices:
      house-01.battery: {delay_s: 2.0, delay_probability: 0.5}
      house-02.meter: {drop_after_requests: 10}
      house-06.battery: {values: {soc_pct: 250}}
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.modbus_server import Action, Decision, Request, RequestHook
from energy.config import ConfigIssue, issues_from_validation_error
from energy.yamlfile import load_yaml

__all__ = [
    "DeviceFaults",
    "FaultPlan",
    "FaultPlanError",
    "FaultTarget",
    "device_rng",
    "load_fault_plan",
    "request_hook",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class DeviceFaults(BaseModel):
    """What goes wrong with one device. The default is a healthy device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_s: Annotated[float, Field(ge=0.0, le=600.0)] = 0.0
    delay_probability: Probability = 1.0
    no_response_probability: Probability = 0.0
    exception_code: Annotated[int, Field(ge=1, le=255)] | None = None
    exception_probability: Probability = 1.0
    drop_after_requests: Annotated[int, Field(ge=1)] | None = None
    drop_probability: Probability = 0.0
    frozen: bool = False
    values: dict[str, bool | float | int | str] = Field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self == DeviceFaults()


class FaultPlan(BaseModel):
    """Faults for several devices, keyed by asset id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    devices: dict[str, DeviceFaults] = Field(default_factory=dict)


class FaultPlanError(ValueError):
    """A fault plan that cannot be used; carries every issue found."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{len(issues)} problem(s) in fault plan:\n{lines}")


def load_fault_plan(path: str | Path) -> FaultPlan:
    """Read and validate a fault plan YAML file; errors name file and key."""
    file = str(path)
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FaultPlanError(
            [ConfigIssue(file=file, key_path="(file)", expected="readable YAML", found=str(exc))]
        ) from None
    try:
        return FaultPlan.model_validate(data)
    except ValidationError as exc:
        raise FaultPlanError(issues_from_validation_error(exc, file, data)) from None


class FaultTarget(Protocol):
    """Anything carrying a device's current faults and its seeded random generator."""

    faults: DeviceFaults
    rng: random.Random


def device_rng(seed: int, asset_id: str) -> random.Random:
    """The reproducible random generator of one device's faults."""
    return random.Random(f"{seed}:{asset_id}")


def request_hook(units: Mapping[int, FaultTarget]) -> RequestHook:
    """A server hook applying the faults of the unit a request is for (read at request time)."""

    async def hook(request: Request) -> Decision:
        state = units.get(request.unit_id)
        if state is None or state.faults.healthy:
            return Decision()
        f = state.faults
        rng = state.rng
        delay = f.delay_s if f.delay_s > 0 and rng.random() < f.delay_probability else 0.0
        if (
            f.drop_after_requests is not None
            and request.connection_requests > f.drop_after_requests
        ):
            return Decision(Action.DROP, delay)
        if f.drop_probability > 0 and rng.random() < f.drop_probability:
            return Decision(Action.DROP, delay)
        if f.no_response_probability > 0 and rng.random() < f.no_response_probability:
            return Decision(Action.SILENT, delay)
        if f.exception_code is not None and rng.random() < f.exception_probability:
            return Decision(Action.EXCEPTION, delay, f.exception_code)
        return Decision(Action.PROCEED, delay)

    return hook
