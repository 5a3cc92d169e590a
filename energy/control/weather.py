"""The live loop's weather: a live feed, then the newest stored forecast, then climatology.

`WeatherChain.forecast(issue_time, horizon)` answers for the planner, in this order:

1. live: the configured feed (Bright Sky / DWD MOSMIX or Open-Meteo). An answer that covers
   every slot of the horizon with temperature and irradiance is stored with its issue time
   (energy.store.weather) and used; the weather alarm is cleared.
2. stored: when the feed fails (HTTP error, malformed reply, timeout) or answers with gaps (a
   late MOSMIX run whose forecast no longer reaches the end of the horizon), the newest stored
   forecast issued at or before now that still covers the horizon. Alarm `weather_fallback`,
   warning, naming the failure and the age of the forecast used.
3. climatology: the test reference year of the site's region. Alarm `weather_fallback`,
   critical: the plan knows nothing of today's weather.

Every step is logged, the alarm shows on the status page, and `last` (a WeatherStatus) goes into
the plan's summary, so no plan is made on weather of unknown origin.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from energy.alarm_texts import alarm_text
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.weather import read_stored_weather, write_weather_forecast
from energy.weather import WeatherFeed, WeatherFeedError, forecast_window, weather_gap

__all__ = ["ALARM_CODE", "WeatherChain", "WeatherStatus"]

log = logging.getLogger(__name__)

ALARM_CODE = "weather_fallback"
ALARM_SOURCE = "weather"

Step = Literal["live", "stored", "climatology"]


@dataclass(frozen=True)
class WeatherStatus:
    """Where the weather of one plan came from."""

    step: Step
    source: str
    issue_time: dt.datetime
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "source": self.source,
            "issue_time": self.issue_time.isoformat(),
            "reason": self.reason,
        }


class WeatherChain:
    """A WeatherFeed that falls back (module docstring)."""

    name = "fallback-chain"

    def __init__(self, site_id: str, store: Store, live: WeatherFeed, climatology: WeatherFeed):
        self.site_id = site_id
        self.store = store
        self.live = live
        self.climatology = climatology
        self.last: WeatherStatus | None = None

    def forecast(self, issue_time: pd.Timestamp, horizon: dt.timedelta) -> pd.DataFrame:
        now = pd.Timestamp(issue_time).to_pydatetime()
        grid = forecast_window(issue_time, horizon)
        answer = self._live(issue_time, horizon, grid)
        if isinstance(answer, pd.DataFrame):
            self._store(now, answer)
            clear_alarm(self.store, self.site_id, ALARM_CODE, ALARM_SOURCE, now)
            self.last = WeatherStatus("live", self.live.name, now)
            return answer
        failure = answer
        stored = read_stored_weather(self.store, self.site_id, now, grid)
        if stored is not None:
            age_h = (now - stored.issue_time).total_seconds() / 3600.0
            message = alarm_text(
                "weather.stored",
                feed=self.live.name,
                failure=failure,
                source=stored.source,
                issued_at=stored.issue_time,
                age_h=round(age_h, 1),
            )
            log.warning("%s", message)
            raise_alarm(
                self.store, self.site_id, ALARM_CODE, ALARM_SOURCE, Severity.WARNING, message, now
            )
            self.last = WeatherStatus("stored", stored.source, stored.issue_time, failure)
            return stored.frame
        message = alarm_text(
            "weather.climatology",
            feed=self.live.name,
            failure=failure,
            from_at=grid[0].to_pydatetime(),
            to_at=(grid[-1] + (grid[1] - grid[0])).to_pydatetime(),
        )
        log.error("%s", message)
        raise_alarm(
            self.store, self.site_id, ALARM_CODE, ALARM_SOURCE, Severity.CRITICAL, message, now
        )
        self.last = WeatherStatus("climatology", self.climatology.name, now, failure)
        return self.climatology.forecast(issue_time, horizon).reindex(grid)

    def _live(
        self, issue_time: pd.Timestamp, horizon: dt.timedelta, grid: pd.DatetimeIndex
    ) -> pd.DataFrame | str:
        """The live answer on grid, or why there is none."""
        try:
            frame = self.live.forecast(issue_time, horizon)
        except WeatherFeedError as exc:
            return str(exc)
        gap = weather_gap(frame, grid)
        if gap is not None:
            return f"answer incomplete: {gap}"
        return frame.reindex(grid)

    def _store(self, now: dt.datetime, frame: pd.DataFrame) -> None:
        """Keep the live answer; a store failure loses this copy, never the plan."""
        try:
            write_weather_forecast(self.store, self.site_id, self.live.name, now, frame)
        except SQLAlchemyError:
            log.exception("could not store the %s weather forecast of %s", self.live.name, now)
