"""A local HTTP server that replays external services in their documented formats.

Tests point our clients at it (base_url) instead of the internet; nothing of our own client is
patched. Each route is a function of the query parameters returning (status, content type,
body); `fail_with` makes every route answer with one HTTP status (a failing service).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

Reply = tuple[int, str, bytes]
Route = Callable[[dict[str, str]], Reply]


def json_reply(payload: Any, status: int = 200) -> Reply:
    return status, "application/json", json.dumps(payload).encode()


class ReplayServer:
    """Routes by path; records every request (path and query) it answered."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.fail_with: int | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                server.requests.append((parts.path, query))
                if server.fail_with is not None:
                    status, kind, body = json_reply({"error": "replayed outage"}, server.fail_with)
                elif parts.path in server.routes:
                    status, kind, body = server.routes[parts.path](query)
                else:
                    status, kind, body = json_reply({"error": f"no route {parts.path}"}, 404)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @contextmanager
    def running(self) -> Iterator[ReplayServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join()


def bright_sky_weather(
    first: pd.Timestamp, last: pd.Timestamp, temp_c: Callable[[pd.Timestamp], float]
) -> dict[str, Any]:
    """A Bright Sky `/weather` answer (MOSMIX source, `dwd` units) with hourly records from
    first to last inclusive: temperature from temp_c, solar [kWh/m2] of the hour before each
    stamp from a clear-day bell around 12 UTC."""
    stamps = pd.date_range(first.floor("h"), last.ceil("h"), freq="h")
    records = []
    for stamp in stamps:
        middle = stamp - pd.Timedelta(minutes=30)
        hour = middle.hour + middle.minute / 60
        solar_kwh = max(0.0, 0.5 * float(np.cos((hour - 12.0) / 12.0 * np.pi)))
        records.append(
            {
                "timestamp": stamp.isoformat(),
                "source_id": 238685,
                "precipitation": 0.0,
                "pressure_msl": 1015.0,
                "sunshine": None,
                "temperature": round(temp_c(stamp), 1),
                "wind_direction": 240,
                "wind_speed": 9.0,
                "cloud_cover": 40,
                "dew_point": 1.0,
                "relative_humidity": None,
                "visibility": 20000,
                "wind_gust_direction": None,
                "wind_gust_speed": 18.0,
                "condition": "dry",
                "precipitation_probability": None,
                "precipitation_probability_6h": None,
                "solar": round(solar_kwh, 3),
                "icon": "partly-cloudy-day",
            }
        )
    source = {
        "id": 238685,
        "dwd_station_id": None,
        "observation_type": "forecast",
        "lat": 51.58,
        "lon": 7.2,
        "height": 76.0,
        "station_name": "HERNE (MOSMIX)",
        "wmo_station_id": "X5555",
        "first_record": stamps[0].isoformat(),
        "last_record": stamps[-1].isoformat(),
        "distance": 3650.0,
    }
    return {"weather": records, "sources": [source]}


def bright_sky_route(temp_c: Callable[[pd.Timestamp], float]) -> Route:
    """/weather answering the requested [date, last_date] window."""

    def route(query: dict[str, str]) -> Reply:
        first = pd.Timestamp(query["date"]).tz_convert("UTC")
        last = pd.Timestamp(query["last_date"]).tz_convert("UTC")
        return json_reply(bright_sky_weather(first, last, temp_c))

    return route


_A44_NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
_ACK_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"


def entsoe_a44(
    prices: pd.Series,
    zone_eic: str = "10Y1001A1001A82H",
    curve: str = "A03",
    resolution: str = "PT15M",
) -> str:
    """An ENTSO-E Publication_MarketDocument (A44) with one TimeSeries per UTC day of the prices
    [EUR/MWh] given at resolution (PT15M or PT60M). With curveType A03 a point repeating the
    previous price is left out, as the platform publishes them."""
    step = pd.Timedelta(minutes=15 if resolution == "PT15M" else 60)

    def stamp(t: pd.Timestamp) -> str:
        return t.strftime("%Y-%m-%dT%H:%MZ")

    start, end = prices.index[0], prices.index[-1] + step
    series_xml = []
    for number, (_, day) in enumerate(prices.groupby(prices.index.floor("D")), start=1):
        points = []
        previous = None
        for position, value in enumerate(day.to_numpy(dtype=float), start=1):
            if curve == "A03" and position > 1 and value == previous:
                continue
            previous = value
            points.append(
                f"<Point><position>{position}</position>"
                f"<price.amount>{value:.2f}</price.amount></Point>"
            )
        first, last = day.index[0], day.index[-1] + step
        series_xml.append(
            f"""<TimeSeries>
    <mRID>{number}</mRID>
    <auction.type>A01</auction.type>
    <businessType>A62</businessType>
    <in_Domain.mRID codingScheme="A01">{zone_eic}</in_Domain.mRID>
    <out_Domain.mRID codingScheme="A01">{zone_eic}</out_Domain.mRID>
    <contract_MarketAgreement.type>A01</contract_MarketAgreement.type>
    <currency_Unit.name>EUR</currency_Unit.name>
    <price_Measure_Unit.name>MWH</price_Measure_Unit.name>
    <curveType>{curve}</curveType>
    <Period>
      <timeInterval><start>{stamp(first)}</start><end>{stamp(last)}</end></timeInterval>
      <resolution>{resolution}</resolution>
      {"".join(points)}
    </Period>
  </TimeSeries>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Publication_MarketDocument xmlns="{_A44_NS}">
  <mRID>replay-a44</mRID>
  <revisionNumber>1</revisionNumber>
  <type>A44</type>
  <sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
  <sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
  <receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</receiver_MarketParticipant.mRID>
  <receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>
  <createdDateTime>{stamp(start)}</createdDateTime>
  <period.timeInterval><start>{stamp(start)}</start><end>{stamp(end)}</end></period.timeInterval>
  {"".join(series_xml)}
</Publication_MarketDocument>
"""


def entsoe_no_data(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """The Acknowledgement_MarketDocument ENTSO-E answers when nothing is published."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Acknowledgement_MarketDocument xmlns="{_ACK_NS}">
  <mRID>replay-ack</mRID>
  <createdDateTime>{start.strftime("%Y-%m-%dT%H:%M:%SZ")}</createdDateTime>
  <sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
  <sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
  <receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A39I</receiver_MarketParticipant.mRID>
  <receiver_MarketParticipant.marketRole.type>A39</receiver_MarketParticipant.marketRole.type>
  <received_MarketDocument.createdDateTime>{start.strftime("%Y-%m-%dT%H:%M:%SZ")}</received_MarketDocument.createdDateTime>
  <Reason>
    <code>999</code>
    <text>No matching data found for Data item Day-ahead Prices [12.1.D] (10Y1001A1001A82H, 10Y1001A1001A82H) and interval {start.isoformat()}/{end.isoformat()}.</text>
  </Reason>
</Acknowledgement_MarketDocument>
"""


def entsoe_route(
    prices: pd.Series, published_at: Callable[[], pd.Timestamp | None] | None = None
) -> Route:
    """/api answering A44 queries from prices; slots after published_at() (the replayed
    publication state) are not published yet; no slot in the window: the acknowledgement with
    HTTP 200, as ENTSO-E answers it."""

    def route(query: dict[str, str]) -> Reply:
        if query.get("documentType") != "A44" or not query.get("securityToken"):
            return 401, "text/html", b"<html><body>Unauthorized</body></html>"
        start = pd.to_datetime(query["periodStart"], format="%Y%m%d%H%M", utc=True)
        end = pd.to_datetime(query["periodEnd"], format="%Y%m%d%H%M", utc=True)
        window = prices.loc[start : end - pd.Timedelta(minutes=15)]
        limit = published_at() if published_at is not None else None
        if limit is not None:
            window = window.loc[: limit - pd.Timedelta(minutes=15)]
        if window.empty:
            return 200, "text/xml", entsoe_no_data(start, end).encode()
        return 200, "text/xml", entsoe_a44(window).encode()

    return route


def energy_charts_route(prices: pd.Series) -> Route:
    """/price answering from prices in Energy-Charts' JSON layout."""

    def route(query: dict[str, str]) -> Reply:
        start = pd.Timestamp(query["start"]).tz_convert("UTC")
        end = pd.Timestamp(query["end"]).tz_convert("UTC")
        window = prices.loc[start : end - pd.Timedelta(minutes=15)]
        return json_reply(
            {
                "license_info": "CC BY 4.0 (creativecommons.org/licenses/by/4.0) from Bundesnetzagentur | SMARD.de",
                "unix_seconds": [int(t.timestamp()) for t in window.index],
                "price": [round(float(v), 2) for v in window.to_numpy()],
                "unit": "EUR / MWh",
                "deprecated": False,
            }
        )

    return route
