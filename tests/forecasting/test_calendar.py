"""Calendar features in local time: DST days, German/NRW public holidays."""

from __future__ import annotations

import datetime as dt

import numpy as np

from energy.timegrid import local_day_slots
from forecasting.calendar import calendar_features


def test_spring_forward_day_has_92_slots_and_no_local_2_oclock(site):
    slots = local_day_slots(dt.date(2026, 3, 29), site.tz)
    cal = calendar_features(slots, site.config.location)
    assert len(cal) == 92
    assert not ((cal["hour_local"] >= 2) & (cal["hour_local"] < 3)).any()
    assert cal["hour_local"].iloc[0] == 0.0
    assert cal["hour_local"].iloc[-1] == 23.75


def test_fall_back_day_repeats_the_2_oclock_hour(site):
    slots = local_day_slots(dt.date(2026, 10, 25), site.tz)
    cal = calendar_features(slots, site.config.location)
    assert len(cal) == 100
    assert ((cal["hour_local"] >= 2) & (cal["hour_local"] < 3)).sum() == 8


def test_nrw_holidays_count_as_sundays(site):
    # Fronleichnam (Corpus Christi) is a public holiday in NRW: 4 June 2026, a Thursday
    slots = local_day_slots(dt.date(2026, 6, 4), site.tz)
    cal = calendar_features(slots, site.config.location)
    assert (cal["is_holiday"] == 1.0).all()
    assert (cal["day_type"] == 2).all()
    workday = calendar_features(local_day_slots(dt.date(2026, 6, 3), site.tz), site.config.location)
    assert (workday["day_type"] == 0).all()


def test_berlin_does_not_get_nrw_holidays(site):
    berlin = site.config.location.model_copy(update={"holidays_subdivision": "BE"})
    cal = calendar_features(local_day_slots(dt.date(2026, 6, 4), site.tz), berlin)
    assert np.all(cal["is_holiday"] == 0.0)
