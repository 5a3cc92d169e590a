"""EV charging sessions on the slot grid (energy.ev): one arrival and one departure per session
and weekday, plugged in for exactly the session's wall-clock time, on DST weeks too."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from energy.config import ChargingSession, EVChargerConfig
from energy.ev import session_marks

TZ = "Europe/Berlin"
# quarter hours of the day clear of the clock change (02:00-03:00): arrivals not in it,
# departures not at its end either (the slot before them must exist)
ARRIVALS = [q for q in range(96) if not 8 <= q < 12]
DEPARTURES = [q for q in range(96) if not 8 < q <= 12]


def _time(quarter: int) -> dt.time:
    return dt.time(quarter // 4, 15 * (quarter % 4))


@given(
    weekdays=st.sets(st.integers(0, 6), min_size=1),
    arrive=st.sampled_from(ARRIVALS),
    depart=st.sampled_from(DEPARTURES),
    share=st.floats(0.01, 1.0),
    week_start=st.sampled_from(["2026-01-12", "2026-03-23", "2026-10-19"]),
)
def test_each_session_arrives_departs_and_stays_once_per_weekday(
    weekdays: set[int], arrive: int, depart: int, share: float, week_start: str
) -> None:
    minutes = (depart - arrive) % 96 * 15 or 24 * 60
    # a share of what the charger can deliver in the session (at most the car's battery)
    energy_kwh = share * min(22.0 * 0.92 * minutes / 60, 80.0)
    session = ChargingSession(
        weekdays=sorted(weekdays),
        arrive_local=_time(arrive),
        depart_local=_time(depart),
        energy_kwh=energy_kwh,
    )
    charger = EVChargerConfig(
        id="ev", name="ev", charge_max_kw=22.0, vehicle_capacity_kwh=80.0, sessions=[session]
    )
    # the local week (DST weeks included) plus a day either side, so every session is whole
    local = pd.date_range(week_start, periods=9 * 96, freq="15min", tz=TZ) - pd.Timedelta(days=1)
    index = pd.date_range(local[0].tz_convert("UTC"), local[-1].tz_convert("UTC"), freq="15min")
    marks = session_marks(charger, index, ZoneInfo(TZ))
    arrivals = np.flatnonzero(marks.arrival_kwh)
    departures = np.flatnonzero(marks.departs)
    week = (index >= pd.Timestamp(week_start, tz=TZ)) & (
        index < pd.Timestamp(week_start, tz=TZ) + pd.DateOffset(days=7)
    )
    assert int(week[arrivals].sum()) == len(weekdays)
    assert np.allclose(marks.arrival_kwh[arrivals], energy_kwh)
    assert session.duration_minutes == minutes
    for a in arrivals[week[arrivals]]:
        # plugged from the arrival slot to the departure slot, both included, nothing between
        d = departures[departures >= a][0]
        assert marks.plugged[a : d + 1].all()
        # the next car may arrive as this one leaves (a 24-hour session every day)
        assert not marks.plugged[d + 1] or marks.arrival_kwh[d + 1] > 0
        # the session's wall-clock time, whatever a DST change in between does to the hours
        start, last = (index[k].tz_convert(TZ).tz_localize(None) for k in (a, d))
        wall_minutes = (last - start) / pd.Timedelta(minutes=1) + 15
        assert wall_minutes == session.duration_minutes
