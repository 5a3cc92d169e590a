"""SunSpec register images and point addresses, from the SunSpec Alliance's own model definitions.

A SunSpec device announces 'SunS' at 40000-40001, then a chain of models (each: model id, length,
points), then the end marker 0xFFFF, 0. The model definitions come from pysunspec2
(``sunspec2/models/json``); this module lays a chain out at the base address and renders the
register image of its fixed content (common model strings, model headers, points left
'not implemented'), which the simulated devices serve with their live points overlaid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sunspec2 import mdef
from sunspec2.device import Device, get_model_def

__all__ = [
    "SUNSPEC_BASE_ADDRESS",
    "SUNSPEC_MARKER",
    "ModelPoint",
    "chain_layout",
    "model_points",
    "sunspec_image",
]

SUNSPEC_BASE_ADDRESS = 40000
#: 'SunS' as two registers.
SUNSPEC_MARKER = (0x5375, 0x6E53)
END_MODEL_ID = 0xFFFF


@dataclass(frozen=True)
class ModelPoint:
    """A top-level point of a SunSpec model: where it sits relative to the model's ID register."""

    model_id: int
    name: str
    offset: int
    size: int
    type: str
    sf: str | None
    access: str


def model_points(model_id: int) -> dict[str, ModelPoint]:
    """The top-level points of model ``model_id`` with their offsets (ID is offset 0)."""
    definition = get_model_def(model_id)
    points: dict[str, ModelPoint] = {}
    offset = 0
    for p in definition[mdef.GROUP][mdef.POINTS]:
        sf = p.get(mdef.SF)
        points[p[mdef.NAME]] = ModelPoint(
            model_id=model_id,
            name=p[mdef.NAME],
            offset=offset,
            size=int(p[mdef.SIZE]),
            type=p[mdef.TYPE],
            sf=sf if isinstance(sf, str) else None,
            access=p.get(mdef.ACCESS, "R"),
        )
        offset += int(p[mdef.SIZE])
    return points


def _group_size(group: Mapping[str, Any]) -> int:
    """Registers of a group with its fixed sub-groups (repeating groups count zero times)."""
    size = sum(int(p[mdef.SIZE]) for p in group.get(mdef.POINTS, []))
    for sub in group.get(mdef.GROUPS, []):
        count = sub.get(mdef.COUNT, 1)
        if isinstance(count, int):
            size += count * _group_size(sub)
    return size


def model_length(model_id: int) -> int:
    """Registers after the ID and L registers (the value of L); fixed groups (model 704's power
    factor settings) included, repeating groups left out."""
    return _group_size(get_model_def(model_id)[mdef.GROUP]) - 2


def chain_layout(model_ids: Sequence[int], base: int = SUNSPEC_BASE_ADDRESS) -> dict[int, int]:
    """Address of each model's ID register for a chain starting after 'SunS' at ``base``."""
    layout: dict[int, int] = {}
    address = base + 2
    for model_id in model_ids:
        if model_id in layout:
            raise ValueError(f"model {model_id} appears twice in the chain; not supported here")
        layout[model_id] = address
        address += 2 + model_length(model_id)
    return layout


def sunspec_image(
    models: Sequence[tuple[int, Mapping[str, Any]]], base: int = SUNSPEC_BASE_ADDRESS
) -> dict[int, int]:
    """Register image (address -> value) of 'SunS', the given models and the end marker.

    ``models`` pairs each model id with point values (e.g. the common model's Mn, Md, SN);
    points not given are 'not implemented'. pysunspec2 renders the models.
    """
    device = Device()
    device._set_dict(  # pysunspec2's documented way to build a device from values
        {
            "name": "image",
            "models": [
                {"ID": model_id, "L": model_length(model_id), **dict(values)}
                for model_id, values in models
            ],
        }
    )
    data = device.get_mb()
    registers = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    image = {base: SUNSPEC_MARKER[0], base + 1: SUNSPEC_MARKER[1]}
    for i, value in enumerate(registers):
        image[base + 2 + i] = value
    end = base + 2 + len(registers)
    image[end] = END_MODEL_ID
    image[end + 1] = 0
    return image
