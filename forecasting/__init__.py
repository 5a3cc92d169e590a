"""Forecasting of electric load, heat demand and PV for the houses and the district.

Quantile gradient-boosting models (scikit-learn estimator API), German baselines, rolling-origin
backtests and metrics. Depends on the domain (energy.site, energy.timegrid, energy.config) only.
"""

from forecasting.config import ForecastConfig, load_forecast_config
from forecasting.service import ForecastService
from forecasting.targets import Target, TargetKind, site_targets

__all__ = [
    "ForecastConfig",
    "ForecastService",
    "Target",
    "TargetKind",
    "load_forecast_config",
    "site_targets",
]
