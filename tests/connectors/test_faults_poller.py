"""Faults end with the right quality, a logged reason, no crash and no effect on other devices:
timeout, exception response, connection dropped mid-poll, out-of-range value, a device that never
answers (silent, or nothing listening), and recovery through the circuit breaker's trial."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from test_peer_server_support import (
    ANSWER,
    DROP,
    SILENT,
    Action,
    Request,
    ScriptedServer,
    endpoint,
    free_port,
    register_map,
)

from connectors.poller import DevicePoller, DeviceSpec, PollResult, measurements_frame
from connectors.resilience import BreakerState
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import latest_measurements

HEALTHY_IMAGE = {0: 230, 1: 5}
FAULTY_IMAGE = {0: 100, 1: 200, 10: 300}

# two blocks (a gap the map forbids spanning), so a fault can hit a poll half-way
FAULTY_MAP = register_map(
    [
        {"name": "a", "address": 0, "dtype": "uint16", "min": 0, "max": 1000},
        {"name": "b", "address": 1, "dtype": "uint16"},
        {"name": "c", "address": 10, "dtype": "uint16", "unit": "W"},
    ],
    max_gap_registers=0,
)
HEALTHY_MAP = register_map(
    [{"name": "v", "address": 0, "dtype": "uint16"}, {"name": "w", "address": 1}]
)


async def _run_cycles(
    script: Callable[[Request, int], Action],
    cycles: int,
    *,
    faulty_port: int | None = None,
    store: Store | None = None,
    between: Callable[[int, ScriptedServer], Any] | None = None,
    **overrides: Any,
) -> tuple[list[PollResult], ScriptedServer]:
    healthy = await ScriptedServer(holding=dict(HEALTHY_IMAGE)).start()
    faulty = await ScriptedServer(holding=dict(FAULTY_IMAGE), script=script).start()
    specs = [
        DeviceSpec("healthy", endpoint(healthy.port), HEALTHY_MAP),
        DeviceSpec("faulty", endpoint(faulty_port or faulty.port), FAULTY_MAP),
    ]
    results = []
    try:
        async with DevicePoller(
            devices=specs, store=store, site_id="klimaviertel-sodingen", policy_overrides=overrides
        ) as poller:
            for cycle in range(cycles):
                if between is not None:
                    between(cycle, faulty)
                    await asyncio.sleep(0.02)
                results.append(await poller.poll_once())
    finally:
        await healthy.stop()
        await faulty.stop()
    return results, faulty


def _healthy_unaffected(results: list[PollResult]) -> None:
    for result in results:
        reading = result.devices["healthy"]
        assert reading.ok
        assert reading.fresh == {"v", "w"}
        assert reading.values["v"].value == 230
        assert reading.values["v"].quality is Quality.GOOD


def test_timeouts_make_values_stale_after_n_failures(caplog: pytest.LogCaptureFixture) -> None:
    def script(request: Request, n: int) -> Action:
        return ANSWER if n < 2 else SILENT  # first cycle answers both blocks, then silence

    caplog.set_level(logging.INFO, logger="connectors")
    results, _ = asyncio.run(_run_cycles(script, 3, breaker_failures=10))
    _healthy_unaffected(results)
    first, second, third = (r.devices["faulty"] for r in results)
    assert first.ok
    assert first.values["a"].quality is Quality.GOOD
    assert not second.ok
    assert second.health.consecutive_failures == 1
    assert not second.health.stale
    assert second.fresh == frozenset()
    assert second.values["a"].read_time == first.values["a"].read_time, "held, not re-stamped"
    assert third.health.stale  # stale_after_failures = 2 in the test endpoint
    assert {v.quality for v in third.values.values()} == {Quality.STALE}
    assert third.values["a"].value == 100, "the last good value, never zero"
    assert "no response" in (third.health.last_error or "")
    assert any("stale" in r.getMessage() and "faulty" in r.getMessage() for r in caplog.records)


def test_exception_response_makes_only_that_block_invalid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def script(request: Request, n: int) -> Action:
        return 2 if request.address == 10 else ANSWER  # illegal data address

    caplog.set_level(logging.WARNING, logger="connectors")
    results, _ = asyncio.run(_run_cycles(script, 2))
    _healthy_unaffected(results)
    for result in results:
        reading = result.devices["faulty"]
        assert reading.ok, "an exception response comes from a live device"
        assert reading.health.consecutive_failures == 0
        assert reading.values["a"].quality is Quality.GOOD
        assert reading.values["c"].quality is Quality.INVALID
        assert reading.values["c"].value is None
        assert "exception response 2" in reading.values["c"].reason
    assert any("illegal data address" in r.getMessage() for r in caplog.records)


def test_gateway_exception_counts_as_a_failed_poll() -> None:
    def script(request: Request, n: int) -> Action:
        return 11  # gateway target device failed to respond

    results, _ = asyncio.run(_run_cycles(script, 2, breaker_failures=10))
    _healthy_unaffected(results)
    assert results[-1].devices["faulty"].health.stale


def test_connection_dropped_mid_poll_then_recovers() -> None:
    def script(request: Request, n: int) -> Action:
        return DROP if n == 1 else ANSWER  # the second request of the first cycle

    results, server = asyncio.run(
        _run_cycles(script, 2, reconnect_initial_s=0.01, reconnect_max_s=0.01)
    )
    _healthy_unaffected(results)
    first, second = (r.devices["faulty"] for r in results)
    assert not first.ok
    assert first.fresh == {"a", "b"}, "the block read before the drop is kept"
    assert first.values["a"].quality is Quality.GOOD
    assert "c" not in first.values
    assert second.ok
    assert second.health.consecutive_failures == 0
    assert second.values["c"].value == 300
    assert server.connections == 2


def test_out_of_range_value_is_invalid_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    def script(request: Request, n: int) -> Action:
        return ANSWER

    async def scenario() -> tuple[list[PollResult], ScriptedServer]:
        return await _run_cycles(
            script, 1, between=lambda cycle, server: server.holding.update({0: 4000})
        )

    caplog.set_level(logging.WARNING, logger="connectors")
    results, _ = asyncio.run(scenario())
    reading = results[0].devices["faulty"]
    assert reading.ok
    assert reading.values["a"].quality is Quality.INVALID
    assert reading.values["a"].value == 4000
    assert "above the point's maximum 1000" in reading.values["a"].reason
    assert reading.values["b"].quality is Quality.GOOD
    assert any("point a invalid" in r.getMessage() for r in caplog.records)


def test_silent_device_opens_the_breaker_and_is_skipped_without_traffic() -> None:
    def script(request: Request, n: int) -> Action:
        return SILENT

    results, server = asyncio.run(
        _run_cycles(script, 6, breaker_failures=2, breaker_open_s=3600, retries=1)
    )
    _healthy_unaffected(results)
    faulty = [r.devices["faulty"] for r in results]
    assert [r.requests for r in faulty] == [1, 1, 0, 0, 0, 0]
    # two timed-out requests with one retry each, then nothing goes out
    assert len(server.requests) == 2 * 2
    assert faulty[-1].health.breaker is BreakerState.OPEN
    assert faulty[-1].health.stale
    assert "circuit breaker open" in (faulty[-1].health.last_error or "")


def test_nothing_listening_backs_off_and_stays_stale(site: Site, store: Store) -> None:
    def script(request: Request, n: int) -> Action:
        return ANSWER

    results, _ = asyncio.run(
        _run_cycles(
            script,
            3,
            faulty_port=free_port(),
            store=store,
            reconnect_initial_s=60,
            reconnect_max_s=60,
        )
    )
    _healthy_unaffected(results)
    faulty = [r.devices["faulty"] for r in results]
    assert "cannot connect" in (faulty[0].health.last_error or "")
    assert "next reconnect in" in (faulty[1].health.last_error or "")
    assert faulty[-1].health.stale
    assert not faulty[-1].health.connected
    frame = measurements_frame(results[-1], {"faulty": FAULTY_MAP})
    stale_rows = frame[frame["asset_id"] == "faulty"]
    assert set(stale_rows["quantity"]) == {"a", "b", "c"}
    assert set(stale_rows["quality"]) == {int(Quality.STALE)}
    assert stale_rows["value"].isna().all(), "never read: stored as unknown, not as zero"
    latest = latest_measurements(store, site.id)
    stored = latest[latest["asset_id"] == "faulty"]
    assert set(stored["quality"]) == {int(Quality.STALE)}
    assert set(latest[latest["asset_id"] == "healthy"]["quality"]) == {int(Quality.GOOD)}


def test_breaker_trial_recovers_a_device_that_answers_again() -> None:
    answering = {"now": False}

    def script(request: Request, n: int) -> Action:
        return ANSWER if answering["now"] else SILENT

    def between(cycle: int, server: ScriptedServer) -> None:
        answering["now"] = cycle >= 2

    results, _ = asyncio.run(
        _run_cycles(
            script,
            4,
            between=between,
            breaker_failures=1,
            breaker_open_s=0.01,
            breaker_open_max_s=0.01,
        )
    )
    _healthy_unaffected(results)
    faulty = [r.devices["faulty"] for r in results]
    assert faulty[0].health.breaker is BreakerState.OPEN
    assert faulty[1].health.stale
    assert faulty[-1].ok
    assert faulty[-1].health.breaker is BreakerState.CLOSED
    assert not faulty[-1].health.stale
    assert faulty[-1].values["c"].quality is Quality.GOOD


def test_invalid_reason_is_logged_once_and_recovery_too(caplog: pytest.LogCaptureFixture) -> None:
    def script(request: Request, n: int) -> Action:
        return ANSWER

    def between(cycle: int, server: ScriptedServer) -> None:
        server.holding[0] = 4000 if cycle < 3 else 400  # out of range for three cycles

    caplog.set_level(logging.INFO, logger="connectors")
    results, _ = asyncio.run(_run_cycles(script, 5, between=between))
    qualities = [r.devices["faulty"].values["a"].quality for r in results]
    assert qualities == [Quality.INVALID] * 3 + [Quality.GOOD] * 2
    messages = [r.getMessage() for r in caplog.records if "point a" in r.getMessage()]
    assert len(messages) == 2
    assert "invalid" in messages[0]
    assert "valid again" in messages[1]
