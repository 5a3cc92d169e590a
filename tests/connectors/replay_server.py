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
