"""Devices judged by what is normal for their kind: an inverter asleep at night, a heat pump in
an SG Ready lock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from energy.site import Site
from energy.web.device_health import judge_device, sun_is_down
from energy.web.levels import Level, worst

NIGHT = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)
NOON = dt.datetime(2026, 6, 21, 11, 0, tzinfo=dt.UTC)


def _row(quantity: str, level: Level, quality: str = "good", value: float = 1.0) -> dict[str, Any]:
    return {"quantity": quantity, "level": level, "quality": quality, "value": value}


def test_the_sun_is_down_at_night_and_up_at_noon_in_herne(site: Site) -> None:
    assert sun_is_down(site.config.location, NIGHT)
    assert not sun_is_down(site.config.location, NOON)


@pytest.mark.parametrize("sun_down", [True, False])
def test_an_inverter_reporting_sleep_is_healthy(site: Site, sun_down: bool) -> None:
    pv = site.asset("house-01.pv")
    rows = [
        _row("operating_state", Level.OK, value=2.0),
        _row("power_kw", Level.WARN, quality="invalid", value=float("nan")),
    ]
    health = judge_device(pv, rows, sun_down=sun_down)
    assert health.level is Level.INFO
    assert "schläft" in health.note  # German outside a request: the site's language


def test_an_inverter_not_answering_is_asleep_at_night_and_red_by_day(site: Site) -> None:
    pv = site.asset("house-01.pv")
    rows = [_row("power_kw", Level.BAD, quality="stale", value=0.0)]
    assert judge_device(pv, rows, sun_down=True).level is Level.INFO
    assert judge_device(pv, [], sun_down=True).level is Level.INFO
    assert judge_device(pv, rows, sun_down=False).level is Level.BAD
    assert judge_device(pv, [], sun_down=False).level is Level.BAD


def test_an_inverter_answering_zero_power_with_invalid_values_is_asleep(site: Site) -> None:
    pv = site.asset("house-01.pv")
    rows = [_row("power_kw", Level.OK, value=0.0), _row("voltage_v", Level.WARN, "invalid")]
    assert judge_device(pv, rows, sun_down=False).level is Level.INFO


def test_a_heat_pump_in_an_sg_ready_lock_is_healthy_but_not_when_it_stops_answering(
    site: Site,
) -> None:
    hp = site.asset("house-01.hp")
    locked = [_row("sg_ready_state", Level.OK, value=1.0), _row("heat_kw", Level.WARN, "invalid")]
    assert judge_device(hp, locked, sun_down=False).level is Level.INFO
    stale = [_row("sg_ready_state", Level.BAD, "stale", 1.0)]
    assert judge_device(hp, stale, sun_down=True).level is Level.BAD
    normal = [_row("sg_ready_state", Level.OK, value=2.0), _row("heat_kw", Level.WARN, "invalid")]
    assert judge_device(hp, normal, sun_down=False).level is Level.WARN


def test_a_battery_not_answering_at_night_is_red(site: Site) -> None:
    battery = site.asset("house-01.battery")
    assert judge_device(battery, [_row("soc_frac", Level.BAD, "stale")], True).level is Level.BAD


def test_info_is_green_and_never_hides_a_problem() -> None:
    assert worst([Level.INFO, Level.OK]) is Level.OK
    assert worst([Level.INFO]) is Level.INFO
    assert worst([Level.INFO, Level.WARN]) is Level.WARN
    assert worst([Level.INFO, Level.BAD, Level.OK]) is Level.BAD
