"""The scheduled retraining of the forecaster from the store's measured history.

`retrain_forecaster(store, site, now, history_days, min_coverage_frac)` reads the last
`history_days` of the forecasting targets and weather actuals from the store (the convention of
`energy.control.history.store_history`: a house's `load_kw` and `heat_demand_kw`, `<house>.pv`
`pv_kw`, weather actuals under the asset `weather`; only GOOD values count). When every column is
measured in at least `min_coverage_frac` of the slots, it fits a `forecasting.ForecastService`,
registers every model (a model version per target, artifacts under the data directory) and
returns the service; the planning job then forecasts with it (`LivePlanner.use_forecaster`).
Otherwise it says which series is short and by how much, and the profile bootstrap stays.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from energy.alarm_texts import alarm_text
from energy.control.history import store_history
from energy.control.model_registry import save_service
from energy.site import Site
from energy.store.engine import Store
from energy.timegrid import floor_slot
from forecasting.config import ForecastConfig
from forecasting.service import ForecastService

__all__ = ["RetrainOutcome", "retrain_forecaster"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainOutcome:
    service: ForecastService | None
    reason: str
    versions: dict[str, str] = field(default_factory=dict)


def retrain_forecaster(
    store: Store,
    site: Site,
    now: dt.datetime,
    history_days: int,
    min_coverage_frac: float,
    config: ForecastConfig | None = None,
) -> RetrainOutcome:
    """Train and register a ForecastService on the stored history, when there is enough of it."""
    end = floor_slot(now).to_pydatetime()
    start = end - dt.timedelta(days=history_days)
    history = store_history(store, site, start, end)
    coverage = history.notna().mean()
    weakest = str(coverage.idxmin())
    if float(coverage.min()) < min_coverage_frac:
        return RetrainOutcome(
            None,
            alarm_text(
                "job.retrain_coverage",
                series=weakest,
                coverage=f"{coverage.min():.0%}",
                days=history_days,
                needed=f"{min_coverage_frac:.0%}",
            ),
        )
    service = ForecastService(site, config or ForecastConfig()).fit(history)
    versions = save_service(service, store, created_at=now)
    log.info("retrained %d forecast models on %s..%s", len(versions), start, end)
    return RetrainOutcome(
        service,
        f"trained and registered {len(versions)} models on {start.isoformat()}.."
        f"{end.isoformat()} (weakest coverage {weakest} {coverage.min():.0%})",
        versions,
    )
