"""The fixed words the console shows for stored values (states, kinds, outcomes), marked for the
catalogue: templates translate them where shown (`_(plan.state.value)`), and the catalogue test
finds them here. A value not listed is shown as stored.
"""

from __future__ import annotations

from energy.web.i18n import N_

__all__ = ["WORDS"]

WORDS = (
    # plan states (energy.store.plans.PlanState) and solver outcomes (optimizer.result)
    N_("proposed"),
    N_("approved"),
    N_("rejected"),
    N_("active"),
    N_("superseded"),
    N_("expired"),
    N_("optimal"),
    N_("feasible"),
    N_("fallback"),
    N_("none"),
    N_("milp"),
    N_("lp"),
    N_("lp_relaxation"),
    N_("shifted_previous"),
    N_("rule_based"),
    # traffic lights (energy.web.levels.Level)
    N_("info"),
    N_("ok"),
    N_("warn"),
    N_("bad"),
    N_("unknown"),
    # alarms and incidents (energy.store.alarms)
    N_("warning"),
    N_("critical"),
    N_("acknowledged"),
    N_("cleared"),
    # roles (energy.store.users.Role)
    N_("viewer"),
    N_("operator"),
    N_("analyst"),
    N_("admin"),
    # asset kinds (energy.site.AssetKind), modes and override kinds (energy.store.controls)
    N_("house"),
    N_("pv"),
    N_("heat_pump"),
    N_("tank"),
    N_("battery"),
    N_("meter"),
    N_("grid_meter"),
    N_("ev_charger"),
    N_("auto"),
    N_("manual"),
    N_("setpoint"),
    N_("local"),
    # job and setpoint write outcomes (energy.control.jobs, connectors.writer.WriteStatus)
    N_("skipped"),
    N_("failed"),
    N_("clamped"),
    N_("mismatch"),
    N_("unconfirmed"),
    N_("held"),
    N_("refused_not_writable"),
    N_("refused_invalid"),
    # measurement quality (energy.quality.Quality) and cadence (energy.web.freshness)
    N_("good"),
    N_("stale"),
    N_("invalid"),
    N_("substituted"),
    N_("polled"),
    N_("per slot"),
    # status lights (energy.web.status_view)
    N_("Device communication"),
    N_("Data freshness"),
    N_("Setpoint writes"),
    N_("Watchdogs"),
    N_("Weather"),
    N_("Data hub"),
    N_("Grid limits"),
    N_("Incidents"),
    N_("Last forecast"),
    N_("Last solve"),
    N_("Active plan"),
    N_("Controller"),
    N_("Overrides"),
    # the keys of audit entries' details (energy.store.audit)
    N_("reason"),
    N_("note"),
    N_("address"),
)
