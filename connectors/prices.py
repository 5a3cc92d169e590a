"""Day-ahead price sources: the ENTSO-E Transparency Platform (A44 XML), Energy-Charts (JSON)
and CSV files of exchange results.

Every source returns the platform's price series: EUR/MWh, indexed by the UTC start of each
15-minute slot [t, t + 15 min) (name `slot_start`). Coarser products (hourly, before the German
day-ahead market moved to 15-minute products on 1 October 2025) hold over their four quarter
hours. A slot the source does not publish is absent, never invented.

- ENTSO-E (`GET /api?documentType=A44&in_Domain=..&out_Domain=..&periodStart=yyyyMMddHHmm&
  periodEnd=..&securityToken=..`): a `Publication_MarketDocument` with `TimeSeries/Period`, each
  period a `timeInterval` (start, end, UTC), a `resolution` (ISO 8601 duration, PT15M or PT60M)
  and `Point`s (`position` 1-based, `price.amount` EUR/MWh). With curveType A03 a position may be
  left out: its price is that of the previous point. Errors come as an
  `Acknowledgement_MarketDocument` with a `Reason` (code, text), for example "No matching data
  found" before the day's auction is published.
- Energy-Charts (Fraunhofer ISE, `GET /price?bzn=DE-LU&start=..&end=..`): JSON with
  `unix_seconds` (interval starts) and `price` (EUR/MWh) of equal length; null = not published.
- CSV: `timestamp` (ISO 8601 with UTC offset, interval start) and `price_eur_per_mwh`.

The XML is parsed with defusedxml: a reply is input from outside, not trusted markup.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import httpx
import numpy as np
import pandas as pd
from defusedxml import DefusedXmlException

from energy.prices import PriceFeedError
from energy.timegrid import SLOT, as_utc

__all__ = [
    "DE_LU_EIC",
    "EnergyChartsClient",
    "EntsoeClient",
    "parse_energy_charts",
    "parse_entsoe_a44",
    "read_price_csv",
]

log = logging.getLogger(__name__)

DE_LU_EIC = "10Y1001A1001A82H"
_RESOLUTIONS = {
    "PT15M": pd.Timedelta(minutes=15),
    "PT30M": pd.Timedelta(minutes=30),
    "PT60M": pd.Timedelta(hours=1),
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str, where: str) -> Element:
    for child in element:
        if _local(child.tag) == name:
            return child
    raise PriceFeedError(f"{where}: expected an element <{name}> in <{_local(element.tag)}>")


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: Element, name: str, where: str) -> str:
    text = _child(element, name, where).text
    if text is None or not text.strip():
        raise PriceFeedError(f"{where}: <{name}> is empty")
    return text.strip()


def _to_slots(values: pd.Series, resolution: pd.Timedelta) -> pd.Series:
    """Quarter-hour series from values at resolution (each holds over its interval)."""
    if resolution == SLOT:
        return values
    repeats = int(resolution / SLOT)
    index = pd.DatetimeIndex(
        [t + k * SLOT for t in values.index for k in range(repeats)], name="slot_start"
    )
    return pd.Series(np.repeat(values.to_numpy(dtype=float), repeats), index=index)


def parse_entsoe_a44(xml: str | bytes, where: str = "ENTSO-E reply") -> pd.Series:
    """Day-ahead prices [EUR/MWh] per quarter hour from an A44 Publication_MarketDocument."""
    try:
        root = SafeET.fromstring(xml)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise PriceFeedError(f"{where}: not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        reasons = [
            f"{_text(r, 'code', where)}: {_text(r, 'text', where)}"
            for r in _children(root, "Reason")
        ]
        raise PriceFeedError(f"{where}: acknowledgement instead of prices ({'; '.join(reasons)})")
    if kind != "Publication_MarketDocument":
        raise PriceFeedError(f"{where}: expected a Publication_MarketDocument, found <{kind}>")
    parts: list[pd.Series] = []
    for number, series in enumerate(_children(root, "TimeSeries"), start=1):
        curve = next((c.text for c in series if _local(c.tag) == "curveType"), "A01")
        for period in _children(series, "Period"):
            parts.append(_period(period, curve or "A01", f"{where}, TimeSeries {number}"))
    if not parts:
        raise PriceFeedError(f"{where}: the document holds no TimeSeries/Period")
    prices = pd.concat(parts).sort_index()
    duplicated = prices.index.duplicated(keep="last")
    if duplicated.any():
        log.debug("%s: %d slots published twice; the later one kept", where, duplicated.sum())
    return prices[~duplicated].rename("price_eur_per_mwh")


def _period(period: Element, curve: str, where: str) -> pd.Series:
    interval = _child(period, "timeInterval", where)
    try:
        start = as_utc(_text(interval, "start", where))
        end = as_utc(_text(interval, "end", where))
    except ValueError as exc:
        raise PriceFeedError(f"{where}: timeInterval unreadable: {exc}") from exc
    code = _text(period, "resolution", where)
    if code not in _RESOLUTIONS:
        raise PriceFeedError(
            f"{where}: resolution {code!r} not supported; expected one of {sorted(_RESOLUTIONS)}"
        )
    step = _RESOLUTIONS[code]
    count = int((end - start) / step)
    if count <= 0 or start + count * step != end:
        raise PriceFeedError(
            f"{where}: timeInterval {start} - {end} is not a whole number of {code}"
        )
    values = np.full(count, np.nan)
    for point in _children(period, "Point"):
        try:
            position = int(_text(point, "position", where))
            price = float(_text(point, "price.amount", where))
        except ValueError as exc:
            raise PriceFeedError(f"{where}: a Point is not a number: {exc}") from exc
        if not 1 <= position <= count:
            raise PriceFeedError(f"{where}: Point position {position} outside 1..{count}")
        values[position - 1] = price
    if curve == "A03":
        values = pd.Series(values).ffill().to_numpy()
    index = pd.DatetimeIndex([start + k * step for k in range(count)], name="slot_start")
    series = pd.Series(values, index=index).dropna()
    return _to_slots(series, step)


def _smallest_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The shortest interval between consecutive stamps (one stamp: a quarter hour)."""
    if len(index) < 2:
        return pd.Timedelta(SLOT)
    return pd.Timedelta((index[1:] - index[:-1]).min())


def parse_energy_charts(payload: dict[str, Any], where: str = "Energy-Charts reply") -> pd.Series:
    """Day-ahead prices [EUR/MWh] per quarter hour from an Energy-Charts `/price` answer."""
    try:
        seconds = [int(s) for s in payload["unix_seconds"]]
        raw = payload["price"]
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceFeedError(f"{where}: expected unix_seconds and price; {exc!r}") from exc
    if len(seconds) != len(raw):
        raise PriceFeedError(f"{where}: {len(seconds)} unix_seconds but {len(raw)} prices")
    unit = str(payload.get("unit", "EUR / MWh")).replace(" ", "").upper()
    if unit != "EUR/MWH":
        raise PriceFeedError(f"{where}: unit {payload.get('unit')!r}, expected 'EUR / MWh'")
    if not seconds:
        return pd.Series([], index=pd.DatetimeIndex([], tz="UTC", name="slot_start"), dtype=float)
    index = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True), name="slot_start")
    values = pd.Series([np.nan if v is None else float(v) for v in raw], index=index)
    step = _smallest_step(index)
    if step not in (SLOT, pd.Timedelta(hours=1)):
        raise PriceFeedError(f"{where}: interval {step} between prices; expected 15 min or 1 h")
    return _to_slots(values.dropna(), step).rename("price_eur_per_mwh")


def read_price_csv(path: str | Path) -> pd.Series:
    """Prices [EUR/MWh] per quarter hour from a CSV of exchange results (module docstring)."""
    file = Path(path)
    try:
        frame = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise PriceFeedError(f"{file}: cannot read price CSV: {exc}") from exc
    for needed in ("timestamp", "price_eur_per_mwh"):
        if needed not in frame.columns:
            raise PriceFeedError(
                f"{file}: expected a column {needed!r}; found {list(frame.columns)}"
            )
    text = frame["timestamp"].astype(str)
    offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if not offset.all():
        line = int(np.flatnonzero(~offset.to_numpy())[0]) + 2
        raise PriceFeedError(
            f"{file}, line {line}: timestamp {text[~offset].iloc[0]!r} has no UTC offset; "
            "expected ISO 8601 with offset, e.g. 2026-10-25T02:00:00+01:00"
        )
    try:
        index = pd.DatetimeIndex(
            pd.to_datetime(text, utc=True, format="ISO8601"), name="slot_start"
        )
        values = pd.to_numeric(frame["price_eur_per_mwh"], errors="raise").astype(float)
    except (ValueError, TypeError) as exc:
        raise PriceFeedError(f"{file}: unreadable value: {exc}") from exc
    series = pd.Series(values.to_numpy(), index=index).dropna()
    if series.index.has_duplicates:
        raise PriceFeedError(
            f"{file}: timestamp {series.index[series.index.duplicated()][0]} twice"
        )
    series = series.sort_index()
    if len(series) > 1:
        step = _smallest_step(pd.DatetimeIndex(series.index))
        if step == pd.Timedelta(hours=1):
            series = _to_slots(series, step)
        elif step != SLOT:
            raise PriceFeedError(f"{file}: interval {step} between rows; expected 15 min or 1 h")
    return series.rename("price_eur_per_mwh")


class _PriceHttp:
    name = "http"
    default_base_url = ""

    def __init__(
        self,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._client = client or httpx.Client(timeout=timeout_s)

    def _get(self, path: str, params: dict[str, str], hide: tuple[str, ...] = ()) -> httpx.Response:
        url = f"{self.base_url}{path}"
        shown = {k: ("***" if k in hide else v) for k, v in params.items()}
        try:
            response = self._client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise PriceFeedError(f"{self.name}: GET {url} {shown} failed: {exc}") from exc
        if response.status_code >= 400 and not response.text.lstrip().startswith("<"):
            raise PriceFeedError(
                f"{self.name}: GET {url} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    def close(self) -> None:
        self._client.close()


def _entsoe_time(value: pd.Timestamp) -> str:
    return as_utc(value).strftime("%Y%m%d%H%M")


class EntsoeClient(_PriceHttp):
    """ENTSO-E Transparency Platform REST API (token required; see docs/operations.md)."""

    name = "entsoe"
    default_base_url = "https://web-api.tp.entsoe.eu"

    def __init__(
        self,
        token: str,
        zone_eic: str = DE_LU_EIC,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        if not token:
            raise PriceFeedError("entsoe: no security token (ENTSOE_SECURITY_TOKEN or token file)")
        super().__init__(base_url, client, timeout_s)
        self._token = token
        self.zone_eic = zone_eic

    def day_ahead(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        params = {
            "documentType": "A44",
            "in_Domain": self.zone_eic,
            "out_Domain": self.zone_eic,
            "periodStart": _entsoe_time(start),
            "periodEnd": _entsoe_time(end),
            "securityToken": self._token,
        }
        response = self._get("/api", params, hide=("securityToken",))
        where = f"entsoe: {self.base_url}/api (HTTP {response.status_code})"
        prices = parse_entsoe_a44(response.content, where)
        return prices.loc[as_utc(start) : as_utc(end) - SLOT]


class EnergyChartsClient(_PriceHttp):
    """Energy-Charts price API of Fraunhofer ISE (no key; data of the exchange, CC BY 4.0)."""

    name = "energy-charts"
    default_base_url = "https://api.energy-charts.info"

    def __init__(
        self,
        zone: str = "DE-LU",
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        super().__init__(base_url, client, timeout_s)
        self.zone = zone

    def day_ahead(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        params = {
            "bzn": self.zone,
            "start": as_utc(start).isoformat(),
            "end": as_utc(end).isoformat(),
        }
        response = self._get("/price", params)
        try:
            payload = response.json()
        except ValueError as exc:
            raise PriceFeedError(f"energy-charts: /price answered no JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise PriceFeedError("energy-charts: /price: expected a JSON object")
        prices = parse_energy_charts(payload, f"energy-charts: {self.base_url}/price")
        return prices.loc[as_utc(start) : as_utc(end) - SLOT]
