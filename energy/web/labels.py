"""Names an operator reads instead of identifiers: 'Haus 1 · Batterie' for house-01.battery,
'Netzbezug' for import_kwh. Translated through the catalogue (energy.web.i18n)."""

from __future__ import annotations

from energy.site import AssetKind, Site
from energy.web.i18n import N_, gettext

__all__ = ["alarm_cause", "asset_label", "cost_label", "group_of", "kind_label"]

_KINDS = {
    AssetKind.BATTERY: N_("Battery"),
    AssetKind.HEAT_PUMP: N_("Heat pump"),
    AssetKind.TANK: N_("Tank"),
    AssetKind.PV: N_("PV system"),
    AssetKind.EV_CHARGER: N_("EV charger"),
    AssetKind.METER: N_("Meter"),
    AssetKind.GRID_METER: N_("Grid meter"),
    AssetKind.HOUSE: N_("House"),
}

_COST_ITEMS = {
    "import_eur": N_("Grid import"),
    "export_revenue_eur": N_("Feed-in revenue"),
    "peak_charge_eur": N_("Peak charge"),
    "cycle_cost_eur": N_("Battery wear"),
    "net_energy_cost_eur": N_("Net energy cost"),
    "comfort_penalty_eur": N_("Comfort penalty (tank too cold)"),
    "warm_tank_cop_eur": N_("Heat pump efficiency loss (warm tank)"),
    "limit_penalty_eur": N_("Penalty for exceeded limits"),
    "stored_energy_value_eur": N_("Value of energy left in storage"),
    "objective_eur": N_("Objective"),
    "import_kwh": N_("Grid import energy"),
    "export_kwh": N_("Feed-in energy"),
    "peak_import_kw": N_("Peak import power"),
    "co2_kg": N_("CO2 emissions"),
    "ev_short_penalty_eur": N_("Penalty for EV energy short at departure"),
    "ev_need_left_eur": N_("Value of EV charging still needed at the horizon end"),
    "consumption_kwh": N_("Consumption (households, heat pumps, EV charging)"),
    "ev_charging_kwh": N_("EV charging energy"),
    "ev_short_kwh": N_("EV energy short at departure"),
    "pv_kwh": N_("PV generation"),
    "self_sufficiency_frac": N_("Self-sufficiency"),
    "self_consumption_frac": N_("Self-consumption"),
}


_ALARM_CAUSES = {
    "stale_input": N_("Device not answering: released to its local control"),
    "write_failed": N_("Setpoint not confirmed by the device"),
    "no_valid_plan": N_("No approved plan: devices run under local control"),
    "prices_missing": N_("Day-ahead prices missing: the plan uses the tariff's prices"),
    "price_feed": N_("Price feed failing"),
    "solver_fallback": N_("The optimizer fell back to a simpler plan"),
    "forecast_fallback": N_("Trained forecaster failed: profile forecast used"),
    "weather_fallback": N_("Live weather forecast failing: stored forecast or climatology used"),
    "job_failed": N_("A job failed"),
    "store_unavailable": N_("Database unavailable"),
    "publication_failed": N_("Publication to the data hub failing"),
}


def alarm_cause(code: str) -> str:
    """What an alarm code means, for the incidents table; an unknown code is shown as stored."""
    cause = _ALARM_CAUSES.get(code)
    return gettext(cause) if cause is not None else code


def kind_label(kind: AssetKind) -> str:
    return gettext(_KINDS.get(kind, kind.value))


def group_of(site: Site, asset_id: str) -> str:
    """The house name of an asset (legend groups), or the district's for shared assets."""
    try:
        house_id = site.asset(asset_id).house_id
    except KeyError:
        return gettext("District")
    names = {house.id: house.name for house in site.config.houses}
    return names.get(house_id or "", gettext("District"))


def asset_label(site: Site, asset_id: str) -> str:
    """'<house name> · <kind>' for a known asset, else the identifier as stored."""
    try:
        asset = site.asset(asset_id)
    except KeyError:
        return asset_id
    return f"{group_of(site, asset_id)} · {kind_label(asset.kind)}"


def cost_label(item: str) -> str:
    """A cost breakdown item's name; an item the platform does not know keeps its identifier."""
    label = _COST_ITEMS.get(item)
    return gettext(label) if label is not None else item
