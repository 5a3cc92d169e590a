"""Rolling-origin backtests: issue times in local time, scored window, no look-ahead."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from forecasting.backtest import MODEL, issue_times, run_backtest
from forecasting.config import ForecastConfig
from forecasting.targets import site_targets

FAST = {
    "model": {"params": {"max_iter": 15}},
    "backtest": {"initial_train_days": 21, "refit_every_days": 3},
}


@pytest.fixture(scope="module")
def targets(site):
    return {t.name: t for t in site_targets(site)}


def test_issue_times_follow_local_noon_across_dst(site):
    config = ForecastConfig()
    issues = issue_times(
        pd.Timestamp("2026-03-27T00:00Z"),
        pd.Timestamp("2026-03-31T00:00Z"),
        config,
        site.config.location,
    )
    assert [t.hour for t in issues] == [11, 11, 10, 10]
    assert issues[2].date() == dt.date(2026, 3, 29)


def test_backtest_scores_day_ahead_against_baselines(site, targets, district_spring):
    config = ForecastConfig.model_validate(FAST)
    result = run_backtest(
        targets["district:load_kw"],
        district_spring,
        config,
        site.config.location,
        pd.Timestamp("2026-03-26T00:00Z"),
        pd.Timestamp("2026-04-01T00:00Z"),
    )
    frame = result.predictions
    assert frame["issue_time"].nunique() == result.settings["issues"] == 6
    assert (frame["lead_h"] >= config.backtest.gap_h).all()
    assert (frame["lead_h"] < config.horizon_h).all()
    assert set(result.baselines) == {"persistence", "seasonal_naive", "bdew_h25", "bdew_h0"}
    model = result.metrics[MODEL]
    for key in ("mae", "rmse", "nmae", "mase", "pinball_mean", "coverage", "skill_vs_bdew_h25"):
        assert key in model
    assert model["mae"] < result.metrics["persistence"]["mae"]
    assert "skill_vs_seasonal_naive" in result.metrics["persistence"]


def test_backtest_uses_nothing_after_the_issue(site, targets, district_spring):
    """Changing the target after the issue changes the score, never the forecasts. (The weather
    after the issue reaches the forecasts only through the simulated weather forecast.)"""
    config = ForecastConfig.model_validate(FAST)
    target = targets["district:heat_demand_kw"]
    start, end = pd.Timestamp("2026-03-25T00:00Z"), pd.Timestamp("2026-03-26T00:00Z")
    clean = run_backtest(target, district_spring, config, site.config.location, start, end)
    issue = clean.predictions["issue_time"].iloc[0]
    tampered = district_spring.copy()
    after = tampered.index >= issue
    columns = [c for c in tampered.columns if c.endswith("heat_demand_kw")]
    tampered.loc[after, columns] = tampered.loc[after, columns] * 3 + 7
    again = run_backtest(target, tampered, config, site.config.location, start, end)
    forecasts = ["q10", "q50", "q90", *clean.baselines]
    pd.testing.assert_frame_equal(clean.predictions[forecasts], again.predictions[forecasts])
    assert not clean.predictions["actual"].equals(again.predictions["actual"])


def test_too_little_history_is_explained(site, targets, district_spring):
    config = ForecastConfig.model_validate({"backtest": {"initial_train_days": 60}})
    with pytest.raises(ValueError, match="days of history"):
        run_backtest(
            targets["district:load_kw"],
            district_spring,
            config,
            site.config.location,
            pd.Timestamp("2026-03-10T00:00Z"),
            pd.Timestamp("2026-03-20T00:00Z"),
        )


def test_pv_intervals_are_scored_in_daylight_only(site, targets, district_spring):
    config = ForecastConfig.model_validate(FAST)
    result = run_backtest(
        targets["district:pv_kw"],
        district_spring,
        config,
        site.config.location,
        pd.Timestamp("2026-03-26T00:00Z"),
        pd.Timestamp("2026-03-29T00:00Z"),
    )
    frame = result.predictions
    night = ~frame["interval_scored"]
    assert 0.3 < night.mean() < 0.7
    assert (frame.loc[night, ["q10", "q90"]] == 0).all().all()
    day = frame[~night]
    inside = (day["actual"] >= day["q10"]) & (day["actual"] <= day["q90"])
    assert result.metrics[MODEL]["coverage"] == pytest.approx(inside.mean())
