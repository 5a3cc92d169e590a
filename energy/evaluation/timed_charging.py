"""The tuned EV charger of the rule-tuned yardstick: charging in the cheapest quarter hours.

Left alone, a wallbox charges at full power from the car's arrival; at the carport that is 18:00,
the evening's dearest hours. A competent installer at a dynamic tariff does not leave it so: the
wallbox's app, or a home energy manager such as evcc's charging planner, charges in the cheapest
quarter hours before the departure, just enough to put the session's energy in the car. That is
what the rule-tuned yardstick gets here, device by device, without any view of the district:

per slot and plugged car that still needs energy, the slots from now to its departure are ranked
by import price (earliest first among equal prices); the car charges at full power in this slot
if it is among the n cheapest, n being the slots at full power its remaining need takes, and is
held at zero otherwise. Re-ranked every slot with the car's measured need, it never leaves a car
short that full-power charging from arrival would have filled.

The prices are the tariff's import prices of the period (`energy.tariff.tariff_series`), the same
series the planner sees in an evaluation; a session spans at most the next morning, whose
day-ahead prices are published by 13:00 the day before.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.control.commands import CommandKind, DeviceCommand
from energy.ev import session_marks
from energy.physics.readings import DistrictSnapshot
from energy.site import Site
from energy.tariff import tariff_series
from energy.timegrid import SLOT_HOURS

__all__ = ["PriceTimedCharging"]

#: Needs below this (kWh into the car) count as met: the remainder of a floating-point division.
NEED_EPSILON_KWH = 1e-6


def _next_departure(departs: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per slot, the index of the first slot at or after it whose end is a departure (len: none)."""
    following = np.full(len(departs), len(departs), dtype=np.int64)
    upcoming = len(departs)
    for i in range(len(departs) - 1, -1, -1):
        if departs[i]:
            upcoming = i
        following[i] = upcoming
    return following


class PriceTimedCharging:
    """Commands for the site's EV chargers over the slots of `index` (UTC slot starts, from the
    evaluation's first slot to at least the last session's departure after its last)."""

    def __init__(self, site: Site, index: pd.DatetimeIndex):
        self._index = index
        self._price = tariff_series(site.config, index).price_import_eur_per_kwh.to_numpy()
        self._chargers = site.config.ev_chargers
        self._plugged: dict[str, npt.NDArray[np.bool_]] = {}
        self._arrival_kwh: dict[str, npt.NDArray[np.float64]] = {}
        self._departure: dict[str, npt.NDArray[np.int64]] = {}
        for charger in self._chargers:
            marks = session_marks(charger, index, site.tz)
            self._plugged[charger.id] = marks.plugged
            self._arrival_kwh[charger.id] = marks.arrival_kwh
            self._departure[charger.id] = _next_departure(marks.departs)

    def commands(self, slot: int, snapshot: DistrictSnapshot) -> list[DeviceCommand]:
        """The charging limits for slot number `slot` of the index, from the cars' needs at its
        start (`snapshot`, taken before a car arriving at the slot's start is seen)."""
        commands = []
        for charger in self._chargers:
            need_kwh = min(
                snapshot.ev_chargers[charger.id].need_kwh + self._arrival_kwh[charger.id][slot],
                charger.vehicle_capacity_kwh,
            )
            if not self._plugged[charger.id][slot] or need_kwh <= NEED_EPSILON_KWH:
                commands.append(DeviceCommand(charger.id, CommandKind.RELEASE_TO_LOCAL, None))
                continue
            last = min(int(self._departure[charger.id][slot]), len(self._index) - 1)
            window = self._price[slot : last + 1]
            per_slot_kwh = charger.charge_max_kw * charger.charging_efficiency_frac * SLOT_HOURS
            slots_needed = math.ceil(need_kwh / per_slot_kwh - NEED_EPSILON_KWH)
            rank = int(np.count_nonzero(window[1:] < window[0]))  # equal prices: earliest first
            limit_kw = charger.charge_max_kw if rank < slots_needed else 0.0
            commands.append(DeviceCommand(charger.id, CommandKind.EV_CHARGE_LIMIT_KW, limit_kw))
        return commands
