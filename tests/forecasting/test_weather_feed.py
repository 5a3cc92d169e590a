"""Weather feeds against recorded responses and files: no test touches the network."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from connectors.weather import (
    BrightSkyClient,
    CsvWeatherSource,
    OpenMeteoClient,
    WeatherFeedError,
    parse_bright_sky,
    parse_open_meteo,
    read_weather_csv,
)

DATA = Path(__file__).parent / "data"


def _transport(payload: dict, seen: list[httpx.Request], status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=payload)

    return httpx.MockTransport(handler)


def test_open_meteo_radiation_is_moved_to_the_slot_it_averages():
    payload = json.loads((DATA / "open_meteo_minutely15_2026-03-29.json").read_text())
    frame = parse_open_meteo(payload)
    assert str(frame.index.tz) == "UTC"
    # shortwave_radiation stamped 05:30 is the mean of 05:15-05:30: slot 05:15
    stamp = payload["minutely_15"]["time"].index("2026-03-29T05:30")
    assert (
        frame.loc["2026-03-29T05:15Z", "ghi_w_per_m2"]
        == payload["minutely_15"]["shortwave_radiation"][stamp]
    )
    # temperature of slot 05:15 is the mean of the instants 05:15 and 05:30
    temps = payload["minutely_15"]["temperature_2m"]
    expected = (temps[stamp - 1] + temps[stamp]) / 2
    assert frame.loc["2026-03-29T05:15Z", "temp_outdoor_c"] == pytest.approx(expected)


def test_open_meteo_client_requests_the_window_and_returns_the_grid():
    payload = json.loads((DATA / "open_meteo_minutely15_2026-03-29.json").read_text())
    seen: list[httpx.Request] = []
    client = OpenMeteoClient(51.56, 7.25, client=httpx.Client(transport=_transport(payload, seen)))
    frame = client.forecast(pd.Timestamp("2026-03-29T05:07Z"), dt.timedelta(hours=2))
    assert seen[0].url.path == "/v1/forecast"
    assert seen[0].url.params["timezone"] == "GMT"
    assert "shortwave_radiation" in seen[0].url.params["minutely_15"]
    assert frame.index[0] == pd.Timestamp("2026-03-29T05:00Z")
    assert len(frame) == 8
    assert frame["temp_outdoor_c"].notna().all()


def test_bright_sky_solar_energy_becomes_mean_irradiance_of_the_hour_before():
    payload = json.loads((DATA / "bright_sky_weather_2026-03-29.json").read_text())
    frame = parse_bright_sky(payload)
    solar_at_08 = next(
        r["solar"] for r in payload["weather"] if r["timestamp"].startswith("2026-03-29T08:00")
    )
    hour = frame.loc["2026-03-29T07:00Z":"2026-03-29T07:45Z", "ghi_w_per_m2"]
    assert len(hour) == 4
    assert np.allclose(hour, solar_at_08 * 1000.0)
    assert "dni_w_per_m2" not in frame


def test_bright_sky_http_error_names_the_url_and_status():
    seen: list[httpx.Request] = []
    client = BrightSkyClient(
        51.56, 7.25, client=httpx.Client(transport=_transport({"error": "x"}, seen, 503))
    )
    with pytest.raises(WeatherFeedError, match=r"/weather answered 503"):
        client.forecast(pd.Timestamp("2026-03-29T04:00Z"), dt.timedelta(hours=3))


def test_malformed_payload_is_an_error_not_an_empty_frame():
    with pytest.raises(WeatherFeedError, match="minutely_15"):
        parse_open_meteo({"hourly": {}})
    with pytest.raises(WeatherFeedError, match="no weather records"):
        parse_bright_sky({"weather": [], "sources": []})


def test_hourly_csv_across_spring_forward_lands_on_utc_slots():
    frame = read_weather_csv(DATA / "weather_hourly_dst.csv")
    assert frame.index[0] == pd.Timestamp("2026-03-28T22:00Z")
    assert frame.index.freq is None or frame.index.freq == "15min"
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta(minutes=15)).all()
    # hourly irradiance repeated over its four quarter hours, UTC hour 06:00 (08:00 CEST)
    assert (frame.loc["2026-03-29T06:00Z":"2026-03-29T06:45Z", "ghi_w_per_m2"] == 12.5).all()


def test_csv_without_offset_is_refused(tmp_path):
    path = tmp_path / "naive.csv"
    path.write_text("timestamp,temp_outdoor_c\n2026-01-01T00:00:00,3.0\n2026-01-01T01:00:00,3.5\n")
    with pytest.raises(WeatherFeedError, match="no UTC offset"):
        read_weather_csv(path)


def test_csv_source_serves_the_issue_window():
    source = CsvWeatherSource(DATA / "weather_hourly_dst.csv")
    frame = source.forecast(pd.Timestamp("2026-03-29T00:00Z"), dt.timedelta(hours=1))
    assert list(frame.index) == list(pd.date_range("2026-03-29T00:00Z", periods=4, freq="15min"))
