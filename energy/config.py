"""Site configuration: the typed, validated schema of a district and its loader.

Every physical parameter of a site lives here as a config value with its unit in the name; code
never carries a plant size as a literal. `load_site_config` reports every problem of a file at once
(`SiteConfigError`), each naming the file, the key path, what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from energy.defaults import DEFAULT_SITE_FILE, default_config_dir
from energy.notification_config import NotificationsConfig
from energy.publication_config import PublicationConfig
from energy.urls import check_http_url
from energy.yamlfile import DuplicateKeyError, load_yaml

__all__ = [
    "CONTROL_BOX_ID",
    "DEFAULT_SITE_CONFIG",
    "MIN_POWER_PER_DEVICE_KW",
    "BatteryConfig",
    "ChargingSession",
    "ConfigIssue",
    "ControlBoxConfig",
    "ControlBoxContact",
    "ControlConfig",
    "DeviceEndpoint",
    "EVChargerConfig",
    "GridConfig",
    "GridSignalsConfig",
    "HeatPumpConfig",
    "HouseConfig",
    "LegionellaConfig",
    "Modul3Window",
    "NetworkFeeConfig",
    "ObjectiveConfig",
    "PVConfig",
    "PricesConfig",
    "PublicationConfig",
    "ReleasePolicyConfig",
    "SiteConfig",
    "SiteConfigError",
    "TankConfig",
    "TariffConfig",
    "WeatherConfig",
    "load_site_config",
]

CONFIG_DIR = default_config_dir()
DEFAULT_SITE_CONFIG = CONFIG_DIR / DEFAULT_SITE_FILE

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
AssetId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceEndpoint(_Model):
    """Where a device is reached over Modbus, and which register map describes it."""

    protocol: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str | None = None
    baudrate: Annotated[int, Field(gt=0)] = 9600
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    register_map: str = Field(description="register map file name under config/registermaps/")
    timeout_s: PositiveFloat = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    stale_after_failures: Annotated[int, Field(ge=1)] = 3
    watchdog_s: PositiveFloat = 60.0
    tls: bool = False

    @model_validator(mode="after")
    def _rtu_needs_serial_port(self) -> DeviceEndpoint:
        if self.protocol == "rtu" and not self.serial_port:
            raise ValueError("protocol 'rtu' needs serial_port (for example /dev/ttyUSB0)")
        return self


class PVConfig(_Model):
    peak_kw: PositiveFloat
    tilt_deg: Annotated[float, Field(ge=0, le=90)]
    azimuth_deg: Annotated[float, Field(ge=0, lt=360, description="180 = south")]
    system_loss_frac: Fraction = 0.14
    temp_coefficient_per_k: Annotated[float, Field(ge=-0.02, le=0)] = -0.004
    inverter_efficiency_frac: Annotated[float, Field(gt=0, le=1)] = 0.96
    curtailable: bool = True
    device: DeviceEndpoint | None = None


class HeatPumpControl(StrEnum):
    CONTINUOUS = "continuous"
    SG_READY = "sg_ready"


class HeatPumpConfig(_Model):
    source: Literal["ground", "air"]
    electric_min_kw: NonNegativeFloat
    electric_max_kw: PositiveFloat
    thermal_max_kw: PositiveFloat
    carnot_efficiency_frac: Annotated[float, Field(gt=0, le=1)] = Field(
        0.45, description="COP = efficiency x T_supply / (T_supply - T_source), temperatures in K"
    )
    supply_temp_c: Annotated[float, Field(ge=20, le=80)] = 45.0
    ground_temp_c: float = 10.0
    cop_max: PositiveFloat = 7.0
    control: HeatPumpControl = HeatPumpControl.CONTINUOUS
    min_on_minutes: Annotated[int, Field(ge=0)] = 20
    min_off_minutes: Annotated[int, Field(ge=0)] = 20
    thermostat_setpoint_c: float | None = Field(
        None, description="local tank thermostat target; None = middle of the tank's temp band"
    )
    thermostat_hysteresis_k: PositiveFloat = 5.0
    sg_ready_boost_k: NonNegativeFloat = Field(
        5.0, description="SG Ready state 3 (recommended on) raises the thermostat target by this"
    )
    device: DeviceEndpoint | None = None

    @model_validator(mode="after")
    def _range_ordered(self) -> HeatPumpConfig:
        if self.electric_min_kw > self.electric_max_kw:
            raise ValueError(
                f"electric_min_kw ({self.electric_min_kw}) must not exceed "
                f"electric_max_kw ({self.electric_max_kw})"
            )
        return self


class LegionellaConfig(_Model):
    """The tank's anti-legionella program (hot-water hygiene, after DVGW W 551): once a week, at
    a fixed local weekday and time, the heat pump heats the tank to temp_c and holds it there
    for hold_minutes. The local controller runs it whatever the commands say; plans keep the
    tank at temp_c over the same slots, so that no policy saves money with a cold tank."""

    enabled: bool = True
    temp_c: float = 60.0
    hold_minutes: Annotated[int, Field(ge=15)] = 60
    #: 0 = Monday .. 6 = Sunday, in the site's time zone
    weekday: Annotated[int, Field(ge=0, le=6)] = 6
    start_local: dt.time = dt.time(13, 0)
    #: the hold counts while the tank is within this of temp_c: a unit at the tank's top cycles
    #: against its minimum off time
    tolerance_k: Annotated[float, Field(gt=0, le=5)] = 2.0
    #: a cycle not completed this long after its start counts as missed
    give_up_hours: Annotated[float, Field(gt=0, le=48)] = 12.0

    @field_validator("start_local")
    @classmethod
    def _on_a_slot(cls, value: dt.time) -> dt.time:
        if value.minute % 15 or value.second or value.microsecond:
            raise ValueError(f"expected a quarter-hour time (13:00, 13:15); found {value}")
        return value

    @model_validator(mode="after")
    def _clear_of_the_clock_change(self) -> LegionellaConfig:
        # the clocks change between 02:00 and 03:00 local: a program then would run twice or
        # not at all on those nights
        begin = self.start_local.hour * 60 + self.start_local.minute
        if begin < 180 and begin + self.hold_minutes > 120:
            raise ValueError(
                f"start_local {self.start_local} with hold_minutes {self.hold_minutes}: expected "
                "a program clear of 02:00-03:00 local, when the clocks change; found it overlapping"
            )
        return self


class TankConfig(_Model):
    volume_l: PositiveFloat
    temp_min_c: float
    temp_max_c: float
    loss_w_per_k: NonNegativeFloat
    ambient_temp_c: float = 18.0
    initial_temp_c: float | None = None
    comfort_penalty_eur_per_kwh: NonNegativeFloat = 2.0
    legionella: LegionellaConfig = Field(default_factory=LegionellaConfig)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> TankConfig:
        if self.temp_min_c >= self.temp_max_c:
            raise ValueError(
                f"temp_min_c ({self.temp_min_c}) must be below temp_max_c ({self.temp_max_c})"
            )
        if self.legionella.enabled and self.legionella.temp_c > self.temp_max_c:
            raise ValueError(
                f"legionella.temp_c ({self.legionella.temp_c}) must not exceed temp_max_c "
                f"({self.temp_max_c}): the tank cannot be heated above it"
            )
        if self.initial_temp_c is not None and not (
            self.temp_min_c - 20 <= self.initial_temp_c <= self.temp_max_c + 20
        ):
            raise ValueError(f"initial_temp_c ({self.initial_temp_c}) is implausible")
        return self


class BatteryConfig(_Model):
    chemistry: Literal["li-ion", "redox-flow"] = "li-ion"
    capacity_kwh: PositiveFloat
    charge_max_kw: PositiveFloat
    discharge_max_kw: PositiveFloat
    charge_efficiency_frac: Annotated[float, Field(gt=0, le=1)] = 0.95
    discharge_efficiency_frac: Annotated[float, Field(gt=0, le=1)] = 0.95
    soc_min_frac: Fraction = 0.1
    soc_max_frac: Fraction = 0.95
    standby_loss_frac_per_h: Annotated[float, Field(ge=0, lt=0.1)] = 0.0
    initial_soc_frac: Fraction = 0.5
    cycle_cost_eur_per_kwh: NonNegativeFloat = 0.0
    device: DeviceEndpoint | None = None

    @model_validator(mode="after")
    def _soc_bounds_ordered(self) -> BatteryConfig:
        if self.soc_min_frac >= self.soc_max_frac:
            raise ValueError(
                f"soc_min_frac ({self.soc_min_frac}) must be below soc_max_frac ({self.soc_max_frac})"
            )
        return self


class HouseConfig(_Model):
    id: AssetId
    name: str
    supply_concept: str = Field(
        "", max_length=80, description="the house's supply concept, for comparisons and operators"
    )
    annual_electricity_kwh: PositiveFloat
    annual_space_heat_kwh: NonNegativeFloat
    annual_hot_water_kwh: NonNegativeFloat
    heating_limit_temp_c: float = Field(
        15.0, description="outdoor temperature above which the house needs no space heating"
    )
    meter: DeviceEndpoint | None = None
    pv: PVConfig | None = None
    heat_pump: HeatPumpConfig | None = None
    tank: TankConfig | None = None
    battery: BatteryConfig | None = None

    @model_validator(mode="after")
    def _heat_pump_needs_tank(self) -> HouseConfig:
        if self.heat_pump is not None and self.tank is None:
            raise ValueError("a heat_pump needs a tank to deliver into")
        return self


class CommunityBatteryConfig(BatteryConfig):
    id: AssetId
    name: str


def _minute_of_day(value: dt.time) -> int:
    return value.hour * 60 + value.minute


class ChargingSession(_Model):
    """A recurring charging session: on each listed weekday the car is plugged in at arrive_local
    and leaves at depart_local (the next day when that is not later), and by then it must have
    received energy_kwh (into its battery). Local wall-clock times on quarter hours."""

    #: 0 = Monday .. 6 = Sunday, the day of arrival, in the site's time zone
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1)
    arrive_local: dt.time
    depart_local: dt.time
    energy_kwh: PositiveFloat

    @field_validator("arrive_local", "depart_local")
    @classmethod
    def _on_a_slot(cls, value: dt.time) -> dt.time:
        if value.minute % 15 or value.second or value.microsecond:
            raise ValueError(f"expected a quarter-hour time (18:00, 18:15); found {value}")
        return value

    @field_validator("arrive_local")
    @classmethod
    def _arrival_clear_of_the_clock_change(cls, value: dt.time) -> dt.time:
        # the clocks change between 02:00 and 03:00 local: a slot starting then happens twice
        # or not at all on those nights
        if 120 <= _minute_of_day(value) < 180:
            raise ValueError(
                f"expected a time outside 02:00-03:00 local, when the clocks change; found {value}"
            )
        return value

    @field_validator("depart_local")
    @classmethod
    def _departure_clear_of_the_clock_change(cls, value: dt.time) -> dt.time:
        # a departure is due at the end of the slot before it: that slot must exist every night
        if 120 < _minute_of_day(value) <= 180:
            raise ValueError(
                "expected a time outside 02:15-03:00 local (the slot before it falls into the "
                f"clock change); found {value}"
            )
        return value

    @property
    def duration_minutes(self) -> int:
        """Plugged-in time; a departure not later than the arrival is on the next day."""
        minutes = _minute_of_day(self.depart_local) - _minute_of_day(self.arrive_local)
        return minutes if minutes > 0 else minutes + 24 * 60

    def intervals_minute_of_week(self) -> list[tuple[int, int]]:
        """[arrival, departure) per weekday, in minutes since Monday 00:00 local (the end may
        pass the week's end: it wraps to Monday)."""
        start = _minute_of_day(self.arrive_local)
        return [
            (day * 1440 + start, day * 1440 + start + self.duration_minutes)
            for day in sorted(set(self.weekdays))
        ]


class EVChargerConfig(_Model):
    """An EV charger (wallbox) as a controllable load: while a car is plugged in, the platform
    sets its charging power between 0 and charge_max_kw, and each session's energy must be in
    the car by its departure. Without a valid setpoint the charger charges at full power from
    arrival until the session's energy is in (what a wallbox does on its own).

    Grid side (AC) power is what the platform sets and meters; the car's battery receives
    charging_efficiency_frac of it. A session's energy that has not arrived by the departure
    is short (penalised in plans by unmet_penalty_eur_per_kwh, counted in evaluations) and is
    still needed at the next arrival (the car came back emptier)."""

    id: AssetId
    name: str
    location: str = Field("", description="where the charger stands, for operators")
    charge_max_kw: PositiveFloat
    charging_efficiency_frac: Annotated[float, Field(gt=0, le=1)] = 0.92
    vehicle_capacity_kwh: PositiveFloat = Field(
        description="usable battery of the car; no session (with what is left over) needs more"
    )
    unmet_penalty_eur_per_kwh: NonNegativeFloat = Field(
        1.0,
        description="plan penalty per kWh not in the car at departure (a blend objective adds "
        "the import weight of that kWh)",
    )
    sessions: list[ChargingSession] = Field(min_length=1)
    device: DeviceEndpoint | None = None

    @model_validator(mode="after")
    def _sessions_fit(self) -> EVChargerConfig:
        week = 7 * 1440
        spans: list[tuple[int, int, int]] = []
        for k, session in enumerate(self.sessions):
            if session.energy_kwh > self.vehicle_capacity_kwh:
                raise ValueError(
                    f"sessions[{k}].energy_kwh: expected at most vehicle_capacity_kwh "
                    f"({self.vehicle_capacity_kwh}); found {session.energy_kwh}"
                )
            reachable_kwh = (
                self.charge_max_kw * self.charging_efficiency_frac * session.duration_minutes / 60.0
            )
            if session.energy_kwh > reachable_kwh:
                raise ValueError(
                    f"sessions[{k}].energy_kwh: expected at most {reachable_kwh:.1f} kWh (full "
                    f"power over the {session.duration_minutes} plugged-in minutes); found "
                    f"{session.energy_kwh}"
                )
            spans += [(a, b, k) for a, b in session.intervals_minute_of_week()]
        spans.sort()
        wrapped = [(a + week, b + week, k) for a, b, k in spans[:1]]
        for (_, end, k1), (start, _, k2) in zip(spans, spans[1:] + wrapped, strict=False):
            if start < end:
                raise ValueError(
                    f"sessions[{k1}] and sessions[{k2}] overlap: expected one car at a time; "
                    f"found a session starting before the previous one departs"
                )
        return self


class GridConfig(_Model):
    import_limit_kw: PositiveFloat
    export_limit_kw: PositiveFloat
    feed_in_limit_kw: PositiveFloat | None = Field(
        None, description="regulatory feed-in cap; tighter of this and export_limit_kw applies"
    )
    pv_feed_in_cap_frac: Fraction | None = Field(
        None,
        description=(
            "Solarspitzengesetz: PV without smart meter and control box feeds in at most this "
            "share (0.6) of its rated power; sets feed_in_limit_kw to share x total PV peak_kw "
            "when that is tighter"
        ),
    )
    meter: DeviceEndpoint | None = None


class TimeOfUseBand(_Model):
    start_local: dt.time
    end_local: dt.time
    price_eur_per_kwh: NonNegativeFloat


class Modul3Window(_Model):
    """One window of a §14a Modul 3 time-variable network fee: a tier in force between two
    local times (end after start; end 00:00 = midnight) in the listed quarters of the year."""

    quarters: list[Annotated[int, Field(ge=1, le=4)]] = Field(min_length=1)
    start_local: dt.time
    end_local: dt.time
    tier: Literal["low", "high"]

    @model_validator(mode="after")
    def _ordered(self) -> Modul3Window:
        if self.end_local != dt.time(0) and self.end_local <= self.start_local:
            raise ValueError(
                f"end_local {self.end_local} must lie after start_local {self.start_local} "
                "(split a window over midnight into two)"
            )
        return self


class NetworkFeeConfig(_Model):
    """The grid operator's network fee per kWh and the §14a EnWG module chosen (net, EUR).

    module none: energy_price_eur_per_kwh in every slot. modul_1: the same per kWh, plus the
    flat yearly reduction modul_1_reduction_eur_per_year (credited in the evaluation per day of
    the period; it does not change a slot's price). modul_2: the separately metered devices
    (modul_2_assets) pay the energy price reduced by modul_2_reduction_frac (the connection point
    the full one). modul_3 (with Modul 1): the energy price follows the tiers low / standard /
    high in the operator's windows per quarter (modul_3_windows; outside them: standard).
    """

    energy_price_eur_per_kwh: NonNegativeFloat
    module: Literal["none", "modul_1", "modul_2", "modul_3"] = "none"
    modul_1_reduction_eur_per_year: NonNegativeFloat = 0.0
    modul_2_reduction_frac: Fraction = 0.6
    modul_2_assets: list[str] = Field(default_factory=list)
    modul_3_low_eur_per_kwh: NonNegativeFloat | None = None
    modul_3_high_eur_per_kwh: NonNegativeFloat | None = None
    modul_3_windows: list[Modul3Window] = Field(default_factory=list)

    @model_validator(mode="after")
    def _module_has_its_values(self) -> NetworkFeeConfig:
        if self.module == "modul_1" and self.modul_1_reduction_eur_per_year == 0:
            raise ValueError("module 'modul_1' needs modul_1_reduction_eur_per_year")
        if self.module == "modul_2" and not self.modul_2_assets:
            raise ValueError(
                "module 'modul_2' needs modul_2_assets (the separately metered devices)"
            )
        if self.module == "modul_3":
            if self.modul_3_low_eur_per_kwh is None or self.modul_3_high_eur_per_kwh is None:
                raise ValueError(
                    "module 'modul_3' needs modul_3_low_eur_per_kwh and modul_3_high_eur_per_kwh"
                )
            if not self.modul_3_windows:
                raise ValueError("module 'modul_3' needs modul_3_windows (the operator's table)")
            if not (
                self.modul_3_low_eur_per_kwh
                <= self.energy_price_eur_per_kwh
                <= self.modul_3_high_eur_per_kwh
            ):
                raise ValueError(
                    "modul_3 tiers: expected low <= energy_price_eur_per_kwh (standard) <= high"
                )
        return self


class TariffConfig(_Model):
    """What the district pays and earns. Prices are EUR per kWh unless the name says otherwise.

    Import price per slot (kind day_ahead, a dynamic supply tariff under §41a EnWG): (day-ahead
    price + supplier_margin + fees_and_levies + the network fee of the slot) x (1 + vat_frac).
    Without network_fee, fees_and_levies holds every fee and levy; with it, the rest of them.
    Export: feed_in_eur_per_kwh (EEG), nothing in slots with a negative day-ahead price when
    eeg_no_payment_at_negative_prices (§51 EEG).
    """

    kind: Literal["fixed", "time_of_use", "day_ahead"]
    fixed_price_eur_per_kwh: NonNegativeFloat | None = None
    time_of_use: list[TimeOfUseBand] = Field(default_factory=list)
    default_price_eur_per_kwh: NonNegativeFloat | None = Field(
        None, description="time_of_use: price outside every band"
    )
    fees_and_levies_eur_per_kwh: NonNegativeFloat = 0.0
    supplier_margin_eur_per_kwh: float = Field(
        0.0, description="dynamic tariff: the supplier's margin on the day-ahead price (net)"
    )
    network_fee: NetworkFeeConfig | None = Field(
        None, description="the network fee per kWh and §14a module; None: in fees_and_levies"
    )
    eeg_no_payment_at_negative_prices: bool = Field(
        False, description="§51 EEG: no feed-in payment in slots with a negative day-ahead price"
    )
    vat_frac: Fraction = 0.0
    day_ahead_prices_file: str | None = Field(
        None, description="CSV with timestamp,price_eur_per_mwh; relative to the config file"
    )
    feed_in_eur_per_kwh: NonNegativeFloat = 0.0
    peak_import_charge_eur_per_kw: NonNegativeFloat = 0.0
    co2_g_per_kwh: NonNegativeFloat | None = Field(None, description="constant emission factor")
    co2_series_file: str | None = Field(None, description="CSV with timestamp,co2_g_per_kwh")

    @model_validator(mode="after")
    def _kind_has_its_prices(self) -> TariffConfig:
        if self.kind != "day_ahead":
            dynamic = {
                "eeg_no_payment_at_negative_prices": self.eeg_no_payment_at_negative_prices,
                "supplier_margin_eur_per_kwh": self.supplier_margin_eur_per_kwh != 0,
                "network_fee": self.network_fee is not None,
            }
            used = [name for name, on in dynamic.items() if on]
            if used:
                raise ValueError(f"{', '.join(used)}: only with kind 'day_ahead'")
        if self.kind == "fixed" and self.fixed_price_eur_per_kwh is None:
            raise ValueError("kind 'fixed' needs fixed_price_eur_per_kwh")
        if self.kind == "time_of_use" and (
            not self.time_of_use or self.default_price_eur_per_kwh is None
        ):
            raise ValueError(
                "kind 'time_of_use' needs time_of_use bands and default_price_eur_per_kwh"
            )
        return self


class ObjectiveConfig(_Model):
    """What the plan minimises. cost (the default: EUR), grid_import (kWh imported: the most
    self-sufficiency the plant allows), co2, or blend: cost_weight x EUR +
    grid_import_weight_per_kwh x kWh imported + co2_weight_per_kg x kg. The cost/autarky blend is
    kind blend with a grid_import_weight_per_kwh: every kWh imported counts that many euros more
    than it costs (0 = pure cost). Every plan and evaluation reports its self-sufficiency and
    self-consumption whatever the objective."""

    kind: Literal["cost", "grid_import", "co2", "blend"] = "cost"
    cost_weight: NonNegativeFloat = 1.0
    grid_import_weight_per_kwh: NonNegativeFloat = 0.0
    co2_weight_per_kg: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _weights_belong_to_blend(self) -> ObjectiveConfig:
        if self.kind != "blend":
            weighted = [
                name
                for name, value in (
                    ("cost_weight", self.cost_weight != 1.0),
                    ("grid_import_weight_per_kwh", self.grid_import_weight_per_kwh != 0.0),
                    ("co2_weight_per_kg", self.co2_weight_per_kg != 0.0),
                )
                if value
            ]
            if weighted:
                raise ValueError(
                    f"{', '.join(weighted)}: weights apply only with kind 'blend'; found kind "
                    f"{self.kind!r}"
                )
        elif self.cost_weight + self.grid_import_weight_per_kwh + self.co2_weight_per_kg <= 0:
            raise ValueError("kind 'blend' needs at least one positive weight; found all zero")
        return self


class LocationConfig(_Model):
    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    altitude_m: float = 0.0
    timezone: str = "Europe/Berlin"
    holidays_country: str = "DE"
    holidays_subdivision: str | None = Field("NW", description="public holidays: state code")
    weather_try_region: Annotated[int, Field(ge=1, le=15)] = Field(
        5, description="DWD test reference year region used by the simulator (5 = Essen)"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class WeatherConfig(_Model):
    """Weather forecasts of the live loop (`kv run --no-simulator`). The simulator and the
    evaluation always run on the test reference year of location.weather_try_region, which is
    also the live loop's last fallback (climatology)."""

    source: Literal["bright_sky", "open_meteo"] = Field(
        "bright_sky", description="bright_sky: DWD MOSMIX through Bright Sky; open_meteo"
    )
    base_url: str | None = Field(
        None,
        description="service URL; None = the public service (api.brightsky.dev, api.open-meteo.com)",
    )
    timeout_s: PositiveFloat = 10.0
    retention_days: Annotated[int, Field(ge=2)] = Field(
        400,
        description=(
            "stored issued forecasts older than this (by issue time) are deleted by housekeeping; "
            "the forecasters train on forecast weather of up to control.retrain_history_days"
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _http_url(value)


def _http_url(value: str | None) -> str | None:
    return None if value is None else check_http_url(value)


PriceSourceName = Literal["entsoe", "energy_charts"]
_DEFAULT_PRICE_SOURCES: tuple[PriceSourceName, ...] = ("entsoe", "energy_charts")


class PricesConfig(_Model):
    """Day-ahead prices of the live loop (`kv run --no-simulator`). The simulator and the
    evaluation read tariff.day_ahead_prices_file instead. The ENTSO-E security token is never
    in this file: it comes from the environment variable token_env or from token_file."""

    zone: str = Field("DE-LU", description="bidding zone (Energy-Charts name)")
    zone_eic: str = Field("10Y1001A1001A82H", description="bidding zone EIC code (ENTSO-E)")
    sources: list[PriceSourceName] = Field(
        default_factory=lambda: list(_DEFAULT_PRICE_SOURCES),
        min_length=1,
        description="asked in this order; the next stands in when one fails",
    )
    entsoe_base_url: str | None = Field(None, description="None = web-api.tp.entsoe.eu")
    energy_charts_base_url: str | None = Field(None, description="None = api.energy-charts.info")
    token_env: str = "ENTSOE_SECURITY_TOKEN"
    token_file: str | None = Field(
        None, description="file holding only the ENTSO-E token; relative to the config file"
    )
    publication_local: dt.time = Field(
        dt.time(12, 45), description="when the next day's prices are published, local time"
    )
    overdue_after_min: Annotated[int, Field(ge=0)] = Field(
        60, description="minutes after publication_local before missing prices are alarmed"
    )
    fetch_interval_min: Annotated[int, Field(ge=1)] = 15
    timeout_s: PositiveFloat = 20.0

    @field_validator("entsoe_base_url", "energy_charts_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _http_url(value)


class StoreConfig(_Model):
    url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite under data_dir. KV_DATABASE_URL wins."
    )
    data_dir: str = "data"
    spool_dir: str | None = Field(
        None,
        description="measurements polled while the store is unreachable wait here (default: "
        "<data_dir>/spool; KV_DATA_DIR moves it with the data directory)",
    )
    spool_max_mb: PositiveFloat = Field(
        512.0, description="bound of the measurement spool; beyond it the oldest are dropped"
    )


class WebConfig(_Model):
    """The web interface behind a reverse proxy."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from any other client those headers are ignored "
        "(default: none, the connecting address is the client's)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected an IP address or network such as 10.0.0.5 or 10.0.0.0/24, "
                    f"found {entry!r}"
                ) from None
        return value


class ReleasePolicyConfig(_Model):
    """When a proposed plan becomes approved without an operator (issue 7).

    auto_within_limits: approved by the system when the district's planned grid exchange in the
    next compare_slots slots differs from the running plan's by at most max_change_kw (with
    nothing running, the first plan needs an operator unless auto_first_plan). manual: an
    operator approves every plan. See energy/control/release.py.
    """

    mode: Literal["auto_within_limits", "manual"] = "auto_within_limits"
    max_change_kw: NonNegativeFloat = 20.0
    compare_slots: Annotated[int, Field(ge=1)] = Field(
        8, description="slots from now compared against the running plan (re-planned anyway)"
    )
    auto_first_plan: bool = True


class ControlConfig(_Model):
    """The control loop's rates and safety margins. Seconds and minutes of the site's clock."""

    poll_interval_s: PositiveFloat = 5.0
    dispatch_interval_s: PositiveFloat = 5.0
    balancing: bool = Field(
        True,
        description="every dispatch cycle, move the batteries on power setpoints so that the "
        "grid exchange follows the plan, where the plan's stored-energy values say it pays "
        "(energy/control/balancing.py)",
    )
    balancing_gain: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.5,
        description="share of the measured deviation from the planned grid exchange added to "
        "the batteries' move each dispatch cycle: below 1, because the grid meter's reading "
        "may be a poll older than the last move",
    )
    balancing_deadband_kw: NonNegativeFloat = Field(
        0.2,
        description="a balanced battery setpoint within this of the one written is not "
        "rewritten (the watchdog is fed): every write is a row of the setpoint log",
    )
    plan_interval_min: Annotated[int, Field(ge=15, le=60, multiple_of=15)] = 15
    horizon_slots: Annotated[int, Field(ge=4, le=960)] = 144
    plan_time_limit_s: PositiveFloat = Field(
        60.0,
        description="the solver's time limit per plan: a plan not found within it falls back to "
        "the last plan moved on, then to the rule-based plan. A district of a few dozen houses "
        "plans in well under a second; one of hundreds needs minutes for the first plan "
        "(docs/optimizer.md), and must be given them here",
    )
    stale_after_s: PositiveFloat = Field(
        30.0, description="a measurement older than this (or not GOOD) is stale: no control"
    )
    lease_ttl_s: PositiveFloat = 30.0
    proposal_valid_min: Annotated[float, Field(gt=0.0, le=24 * 60)] = Field(
        60.0,
        description="a proposed plan not decided within this many minutes of being made expires "
        "and can no longer be approved: it was made from forecasts and measurements that old",
    )
    restart_hold_s: PositiveFloat | None = Field(
        None, description="hold after a start; None = the longest device watchdog_s"
    )
    release: ReleasePolicyConfig = ReleasePolicyConfig()
    retention_days: Annotated[int, Field(ge=1)] = 400
    retrain_cron: str = Field("0 3 * * 0", description="crontab in site local time")
    retrain_history_days: Annotated[int, Field(ge=14)] = 28
    retrain_min_coverage_frac: Fraction = Field(
        0.9, description="share of slots each forecasting series must be measured in to retrain"
    )
    housekeeping_cron: str = Field("30 3 * * *", description="crontab in site local time")

    @model_validator(mode="after")
    def _plan_within_its_interval(self) -> ControlConfig:
        if self.plan_time_limit_s >= self.plan_interval_min * 60:
            raise ValueError(
                f"plan_time_limit_s ({self.plan_time_limit_s:g}) must be below the plan "
                f"interval ({self.plan_interval_min * 60} s): the next plan is due by then"
            )
        return self

    @property
    def proposal_valid(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.proposal_valid_min)


# -- grid-operator signals -------------------------------------------------------------------------
#
#     grid_signals:
#       min_power_per_device_kw: 4.2      # §14a EnWG: never dim a controllable device below this
#       failsafe_h: 2.0                   # a silent source's last limit holds this long, then lifts
#       control_box:                      # FNN control box relay contacts on a Modbus digital I/O
#         device: {host: 10.0.0.40, port: 502, unit_id: 1, register_map: wago_750_352_io.yaml}
#         contacts:
#           - {point: di_1, dimming_kw: 16.8}   # contact closed: §14a dimming to 16.8 kW
#           - {point: di_2, feed_in_kw: 0.0}    # contact closed: no feed-in
#
# The API source (POST /api/grid-limits, for the grid operator or a marketer) needs no
# configuration: it is available on every site with a grid_signals section.

#: the asset id under which the control box's I/O module is read, served and audited
CONTROL_BOX_ID = "grid.control-box"
#: §14a EnWG (BNetzA BK6-22-300): a controllable device is never dimmed below 4.2 kW
MIN_POWER_PER_DEVICE_KW = 4.2


class ControlBoxContact(_Model):
    """One relay contact of the control box, wired to a digital input of the I/O module: while
    it is closed, the limit it names is in force (exactly one of dimming_kw, feed_in_kw)."""

    point: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    dimming_kw: NonNegativeFloat | None = Field(
        None, description="§14a limit of the controllable devices' draw at the connection point"
    )
    feed_in_kw: NonNegativeFloat | None = Field(
        None, description="feed-in limit at the connection point"
    )

    @model_validator(mode="after")
    def _one_limit(self) -> ControlBoxContact:
        if (self.dimming_kw is None) == (self.feed_in_kw is None):
            raise ValueError(
                f"contact {self.point}: expected exactly one of dimming_kw or feed_in_kw"
            )
        return self


class ControlBoxConfig(_Model):
    """An FNN control box whose relay contacts are read through a Modbus digital I/O module."""

    device: DeviceEndpoint
    contacts: list[ControlBoxContact] = Field(min_length=1)

    @model_validator(mode="after")
    def _points_unique(self) -> ControlBoxConfig:
        points = [c.point for c in self.contacts]
        repeated = sorted({p for p in points if points.count(p) > 1})
        if repeated:
            raise ValueError(f"control_box.contacts: points repeated: {', '.join(repeated)}")
        return self


class GridSignalsConfig(_Model):
    """Grid-operator signals: §14a dimming and temporary feed-in limits (example above;
    docs/operations.md)."""

    min_power_per_device_kw: Annotated[float, Field(ge=MIN_POWER_PER_DEVICE_KW)] = (
        MIN_POWER_PER_DEVICE_KW
    )
    failsafe_h: Annotated[float, Field(gt=0.0, le=48.0)] = 2.0
    max_api_limit_h: Annotated[float, Field(gt=0.0, le=168.0)] = Field(
        24.0, description="the longest a limit set through the API may last"
    )
    control_box: ControlBoxConfig | None = None

    @property
    def failsafe_s(self) -> float:
        return self.failsafe_h * 3600.0


class SiteConfig(_Model):
    id: AssetId
    name: str
    illustrative: bool = Field(
        True, description="sizes are plausible examples, not the real plant's parameters"
    )
    location: LocationConfig
    grid: GridConfig
    tariff: TariffConfig
    objective: ObjectiveConfig = ObjectiveConfig()
    weather: WeatherConfig = WeatherConfig()
    prices: PricesConfig = PricesConfig()
    houses: list[HouseConfig] = Field(min_length=1)
    community_batteries: list[CommunityBatteryConfig] = Field(default_factory=list)
    ev_chargers: list[EVChargerConfig] = Field(default_factory=list)
    store: StoreConfig = StoreConfig()
    control: ControlConfig = ControlConfig()
    publication: PublicationConfig = PublicationConfig()
    grid_signals: GridSignalsConfig | None = None
    web: WebConfig = WebConfig()
    notifications: NotificationsConfig | None = None
    source_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _pv_feed_in_cap(self) -> SiteConfig:
        """Solarspitzengesetz: the PV feed-in cap becomes the hard feed-in limit when tighter."""
        share = self.grid.pv_feed_in_cap_frac
        if share is None:
            return self
        cap_kw = share * sum(h.pv.peak_kw for h in self.houses if h.pv is not None)
        if cap_kw <= 0:
            raise ValueError("grid.pv_feed_in_cap_frac needs PV (peak_kw) to take a share of")
        current = self.grid.feed_in_limit_kw
        if current is None or cap_kw < current:
            grid = self.grid.model_copy(update={"feed_in_limit_kw": round(cap_kw, 6)})
            object.__setattr__(self, "grid", grid)
        return self

    @model_validator(mode="after")
    def _weather_kept_for_training(self) -> SiteConfig:
        kept, needed = self.weather.retention_days, self.control.retrain_history_days
        if kept < needed:
            raise ValueError(
                f"weather.retention_days ({kept}) must be at least control.retrain_history_days "
                f"({needed}): the forecasters train on the stored forecast weather"
            )
        return self

    @model_validator(mode="after")
    def _modul_2_assets_exist(self) -> SiteConfig:
        fee = self.tariff.network_fee
        if fee is None or fee.module != "modul_2":
            return self
        known = {f"{h.id}.hp" for h in self.houses if h.heat_pump is not None}
        known |= {f"{h.id}.battery" for h in self.houses if h.battery is not None}
        known |= {c.id for c in self.ev_chargers}
        unknown = sorted(set(fee.modul_2_assets) - known)
        if unknown:
            raise ValueError(
                f"tariff.network_fee.modul_2_assets: unknown devices {unknown}; "
                f"expected heat pumps, batteries or EV chargers such as {sorted(known)[:3]}"
            )
        return self

    @model_validator(mode="after")
    def _ids_unique(self) -> SiteConfig:
        ids = [h.id for h in self.houses] + [b.id for b in self.community_batteries]
        ids += [c.id for c in self.ev_chargers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"ids must be unique; repeated: {', '.join(duplicates)}")
        addresses = [(d.host, d.port, d.unit_id) for d in _devices(self) if d.protocol == "tcp"]
        clashes = sorted(
            {f"{h}:{p} unit {u}" for h, p, u in addresses if addresses.count((h, p, u)) > 1}
        )
        if clashes:
            raise ValueError(f"two devices share one Modbus address: {', '.join(clashes)}")
        houses = {h.id for h in self.houses}
        unknown = sorted(set(self.publication.consent) - houses)
        if unknown:
            raise ValueError(
                f"publication.consent names houses that are not in houses: {', '.join(unknown)}"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.location.timezone)


STALE_AFTER_POLLS = 3
"""A measurement is stale only after it missed this many polls."""
WATCHDOG_DISPATCHES = 4
"""A device watchdog must outlive this many dispatch cycles (else it fires between rewrites)."""
LEASE_DISPATCHES = 2
"""The site lease must outlive this many dispatch cycles (renewed every third of its life)."""


def worst_read_s(device: DeviceEndpoint) -> float:
    """The longest a failing read of a device takes: every try runs into its timeout."""
    return device.timeout_s * (device.retries + 1)


def timing_problems(site: SiteConfig) -> list[tuple[str, str, str]]:
    """Timing limits that do not fit the loop's cadence: (key path, expected, found) each.

    stale_after_s: three missed polls, the last of which may take a whole timeout and its retries
    to fail (the slowest device); watchdog_s: four dispatch cycles; lease_ttl_s: two dispatch
    cycles; restart_hold_s (when given): the longest device watchdog, so that a successor does not
    write while a predecessor's setpoints still hold.
    """
    control = site.control
    devices = list(_devices(site))
    problems: list[tuple[str, str, str]] = []
    slowest = max(devices, key=worst_read_s, default=None)
    read_s = worst_read_s(slowest) if slowest is not None else 0.0
    needed = STALE_AFTER_POLLS * control.poll_interval_s + read_s
    if control.stale_after_s < needed:
        why = f"{STALE_AFTER_POLLS} x poll_interval_s {control.poll_interval_s:g} s"
        if slowest is not None:
            why += (
                f" + the slowest failing read, {slowest.timeout_s:g} s timeout x "
                f"{slowest.retries + 1} tries ({slowest.register_map} at {slowest.host}:"
                f"{slowest.port} unit {slowest.unit_id})"
            )
        problems.append(
            (
                "control.stale_after_s",
                f"at least {needed:g} s ({why})",
                f"{control.stale_after_s:g}",
            )
        )
    floor_s = WATCHDOG_DISPATCHES * control.dispatch_interval_s
    for where, device in _device_paths(site):
        if device.watchdog_s < floor_s:
            problems.append(
                (
                    f"{where}.watchdog_s",
                    f"at least {floor_s:g} s ({WATCHDOG_DISPATCHES} x "
                    f"control.dispatch_interval_s {control.dispatch_interval_s:g} s)",
                    f"{device.watchdog_s:g}",
                )
            )
    lease_floor_s = LEASE_DISPATCHES * control.dispatch_interval_s
    if control.lease_ttl_s < lease_floor_s:
        problems.append(
            (
                "control.lease_ttl_s",
                f"at least {lease_floor_s:g} s ({LEASE_DISPATCHES} x control.dispatch_interval_s)",
                f"{control.lease_ttl_s:g}",
            )
        )
    longest = max((d.watchdog_s for d in devices), default=0.0)
    if control.restart_hold_s is not None and control.restart_hold_s < longest:
        problems.append(
            (
                "control.restart_hold_s",
                f"at least the longest device watchdog_s, {longest:g} s",
                f"{control.restart_hold_s:g}",
            )
        )
    return problems


def _device_paths(site: SiteConfig) -> Iterable[tuple[str, DeviceEndpoint]]:
    """Every device endpoint with its key path in the configuration."""
    if site.grid.meter:
        yield "grid.meter", site.grid.meter
    for i, house in enumerate(site.houses):
        for name in ("meter", "pv", "heat_pump", "battery"):
            part = getattr(house, name)
            device = part if isinstance(part, DeviceEndpoint) else getattr(part, "device", None)
            if device is not None:
                suffix = "" if isinstance(part, DeviceEndpoint) else ".device"
                yield f"houses[{i}](id={house.id}).{name}{suffix}", device
    for i, battery in enumerate(site.community_batteries):
        if battery.device:
            yield f"community_batteries[{i}](id={battery.id}).device", battery.device
    for i, charger in enumerate(site.ev_chargers):
        if charger.device:
            yield f"ev_chargers[{i}](id={charger.id}).device", charger.device
    if site.grid_signals is not None and site.grid_signals.control_box is not None:
        yield "grid_signals.control_box.device", site.grid_signals.control_box.device


def _devices(site: SiteConfig) -> Iterable[DeviceEndpoint]:
    return (device for _, device in _device_paths(site))


class ConfigIssue(BaseModel):
    """One problem in a configuration file."""

    file: str
    key_path: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key_path}: expected {self.expected}; found {self.found}"


class SiteConfigError(ValueError):
    """A site configuration that cannot be used; carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{len(issues)} problem(s) in site configuration:\n{lines}")


def _key_path(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic location as a readable key path, naming list items by their id."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                ident = node[item].get("id")
                if ident is not None:
                    label = f"[{item}](id={ident})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _found(loc: tuple[Any, ...], data: Any, error_input: Any) -> str:
    if error_input is not None and not isinstance(error_input, dict):
        return repr(error_input)
    node = data
    for item in loc:
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            return "nothing (key missing)"
    return "a mapping" if isinstance(node, dict) else repr(node)


def issues_from_validation_error(exc: ValidationError, file: str, data: Any) -> list[ConfigIssue]:
    """Translate pydantic's errors into ConfigIssues that name file, key path, expected and found."""
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if err["type"] == "missing":
            found = "nothing (key missing)"
        elif err["type"] == "extra_forbidden":
            found = f"unknown key {loc[-1]!r}"
        else:
            found = _found(loc, data, err.get("input"))
        expected = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            expected = "only keys defined by the schema (check the spelling)"
        issues.append(
            ConfigIssue(file=file, key_path=_key_path(loc, data), expected=expected, found=found)
        )
    return issues


def load_site_config(path: str | os.PathLike[str] | None = None) -> SiteConfig:
    """Read and validate a site configuration file (YAML).

    Raises SiteConfigError listing every problem found.
    """
    file = Path(path) if path is not None else DEFAULT_SITE_CONFIG
    shown = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteConfigError(
            [
                ConfigIssue(
                    file=shown,
                    key_path="(file)",
                    expected="a readable YAML file",
                    found=exc.strerror or str(exc),
                )
            ]
        ) from exc
    try:
        data = load_yaml(text)
    except DuplicateKeyError as exc:
        raise SiteConfigError(
            [
                ConfigIssue(
                    file=shown,
                    key_path=f"line {exc.second_line}",
                    expected="each key once in a mapping",
                    found=f"key {exc.key!r} at line {exc.first_line} and again at line "
                    f"{exc.second_line}",
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise SiteConfigError(
            [
                ConfigIssue(
                    file=shown,
                    key_path=where,
                    expected="valid YAML",
                    found=str(getattr(exc, "problem", exc)),
                )
            ]
        ) from exc
    if not isinstance(data, dict) or "site" not in data:
        raise SiteConfigError(
            [
                ConfigIssue(
                    file=shown,
                    key_path="(top level)",
                    expected="a mapping with a 'site' key",
                    found=type(data).__name__,
                )
            ]
        )
    site_data = data["site"]
    try:
        site = SiteConfig.model_validate(site_data)
    except ValidationError as exc:
        issues = issues_from_validation_error(exc, shown, site_data)
        for issue in issues:
            issue.key_path = f"site.{issue.key_path}" if issue.key_path != "(top level)" else "site"
        raise SiteConfigError(issues) from exc
    timing = [
        ConfigIssue(file=shown, key_path=f"site.{key}", expected=expected, found=found)
        for key, expected, found in timing_problems(site)
    ]
    if timing:
        raise SiteConfigError(timing)
    return site.model_copy(update={"source_path": file.resolve()})
