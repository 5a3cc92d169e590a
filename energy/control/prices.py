"""The live loop's day-ahead prices: fetched from the configured sources into the store, read
back for planning with a forecast beyond the published slots.

`DayAheadPrices.fetch(now)` asks the primary source (ENTSO-E), then the second one
(Energy-Charts), for the local days from today to the day after tomorrow, and stores what they
publish with the time it was received. The prices of tomorrow are expected at the publication
time (about 12:45 local time today, `prices.publication_local`); until then "no data" is normal.
Once that time has passed by `prices.overdue_after_min`, missing prices for tomorrow raise the
alarm `prices_missing` (warning: the planner plans tomorrow on forecast prices); a failing primary
source that the second one stood in for raises `price_feed` (warning). Both clear on the next
complete fetch.

`DayAheadPrices.market(index, now)` answers the planner: the newest stored price per slot known
at now, and for slots not published yet the persistence forecast (energy.prices.forecast_prices),
with a mask of which slots are published. `published_until(now)` is the end of the published
slots; the planner re-plans when it moves (energy.control.planner).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from energy.alarm_texts import alarm_text
from energy.prices import PriceFeed, PriceFeedError, forecast_prices, publication_time
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.prices import read_prices, write_prices

__all__ = ["DayAheadPrices", "FetchOutcome", "MarketPrices"]

log = logging.getLogger(__name__)

#: published days read back to forecast the unpublished ones
_LOOKBACK = dt.timedelta(days=7)


@dataclass(frozen=True)
class FetchOutcome:
    source: str | None
    slots_stored: int
    published_until: dt.datetime | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketPrices:
    """Prices for the planner: EUR/MWh on the requested slots, which of them are published."""

    price_eur_per_mwh: pd.Series
    published: np.ndarray
    published_until: dt.datetime | None

    def as_summary(self) -> dict[str, object]:
        return {
            "published_until": self.published_until.isoformat() if self.published_until else None,
            "forecast_slots": int((~self.published).sum()),
            "published_slots": int(self.published.sum()),
        }


class DayAheadPrices:
    """Fetch, store and read day-ahead prices of one bidding zone (module docstring)."""

    def __init__(
        self,
        site_id: str,
        store: Store,
        zone: str,
        sources: list[PriceFeed],
        tz: ZoneInfo,
        publication_local: dt.time,
        overdue_after: dt.timedelta,
    ):
        if not sources:
            raise ValueError("DayAheadPrices needs at least one price source")
        self.site_id = site_id
        self.store = store
        self.zone = zone
        self.sources = sources
        self.tz = tz
        self.publication_local = publication_local
        self.overdue_after = overdue_after

    def _local_midnight(self, day: dt.date) -> pd.Timestamp:
        return pd.Timestamp(dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)).tz_convert("UTC")

    def due(self, now: dt.datetime) -> bool:
        """Whether a fetch can bring anything new: today is not complete, or tomorrow's prices
        are published (by the clock) and not stored yet."""
        until = self.published_until(now)
        today = now.astimezone(self.tz).date()
        tomorrow = today + dt.timedelta(days=1)
        if until is None or until < self._local_midnight(tomorrow).to_pydatetime():
            return True
        published = publication_time(tomorrow, self.tz, self.publication_local)
        return (
            now >= published
            and until < self._local_midnight(tomorrow + dt.timedelta(days=1)).to_pydatetime()
        )

    def fetch(self, now: dt.datetime) -> FetchOutcome:
        """Fetch today's and tomorrow's prices (module docstring); never raises for a source."""
        today = now.astimezone(self.tz).date()
        start = self._local_midnight(today)
        end = self._local_midnight(today + dt.timedelta(days=2))
        problems: list[str] = []
        for source in self.sources:
            try:
                prices = source.day_ahead(start, end)
            except PriceFeedError as exc:
                log.warning("day-ahead prices from %s failed: %s", source.name, exc)
                problems.append(f"{source.name}: {exc}")
                continue
            stored = (
                write_prices(self.store, self.zone, source.name, now, prices) if len(prices) else 0
            )
            if problems:
                raise_alarm(
                    self.store,
                    self.site_id,
                    "price_feed",
                    f"prices:{self.sources[0].name}",
                    Severity.WARNING,
                    alarm_text(
                        "prices.other_source", source=source.name, problems="; ".join(problems)
                    ),
                    now,
                )
            else:
                clear_alarm(self.store, self.site_id, "price_feed", f"prices:{source.name}", now)
            until = self.published_until(now)
            self._overdue_alarm(now, today, until)
            return FetchOutcome(source.name, stored, until, tuple(problems))
        until = self.published_until(now)
        self._overdue_alarm(now, today, until, problems)
        return FetchOutcome(None, 0, until, tuple(problems))

    def _overdue_alarm(
        self,
        now: dt.datetime,
        today: dt.date,
        until: dt.datetime | None,
        problems: list[str] | None = None,
    ) -> None:
        tomorrow = today + dt.timedelta(days=1)
        due = publication_time(tomorrow, self.tz, self.publication_local) + self.overdue_after
        wanted = self._local_midnight(tomorrow + dt.timedelta(days=1)).to_pydatetime()
        if now < due or (until is not None and until >= wanted):
            clear_alarm(self.store, self.site_id, "prices_missing", f"prices:{self.zone}", now)
            return
        reasons = f" ({'; '.join(problems)})" if problems else ""
        raise_alarm(
            self.store,
            self.site_id,
            "prices_missing",
            f"prices:{self.zone}",
            Severity.WARNING,
            alarm_text(
                "prices.overdue",
                day=tomorrow.isoformat(),
                due_at=due,
                reasons=reasons,
                until_at=until or now,
            ),
            now,
        )

    def published_until(self, now: dt.datetime) -> dt.datetime | None:
        """End of the last published slot known at now (None: nothing stored)."""
        frame = read_prices(
            self.store,
            self.zone,
            now - _LOOKBACK,
            now + dt.timedelta(days=3),
            now,
        )
        if frame.empty:
            return None
        return (frame.index[-1] + pd.Timedelta(minutes=15)).to_pydatetime()

    def market(self, index: pd.DatetimeIndex, now: dt.datetime) -> MarketPrices:
        """Prices on index known at now; unpublished slots forecast (module docstring)."""
        frame = read_prices(
            self.store,
            self.zone,
            index[0].to_pydatetime() - _LOOKBACK,
            index[-1].to_pydatetime() + dt.timedelta(minutes=15),
            now,
        )
        if frame.empty:
            raise PriceFeedError(
                f"no day-ahead prices of {self.zone} stored before {now.isoformat()}: "
                "fetch them (`kv prices fetch`) or import a file (`kv prices import`)"
            )
        prices, published = forecast_prices(frame["price_eur_per_mwh"], index, self.tz)
        until = (frame.index[-1] + pd.Timedelta(minutes=15)).to_pydatetime()
        return MarketPrices(prices, published, until)
