"""The poller and the writer against the simulated Klimaviertel served over Modbus TCP (all 30
devices of the default site, on free ports), including injected faults."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.device_client import DeviceReading
from connectors.poller import DevicePoller, PollResult, device_specs, measurements_frame
from connectors.registermap import plan_reads
from connectors.simulated.district import DistrictThread, SimulatedDistrict
from connectors.simulated.faults import DeviceFaults
from connectors.writer import SetpointWriter, WriteStatus
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import latest_measurements
from energy.store.setpoints import read_setpoint_writes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def district(site: Site) -> Iterator[tuple[DistrictThread, SimulatedDistrict]]:
    runner = DistrictThread(site, free_ports=True, speed=1.0)
    served = runner.start()
    try:
        yield runner, served
    finally:
        runner.stop()


def _poll(served_site: Site, cycles: int = 1, **kwargs: Any) -> list[PollResult]:
    async def scenario() -> list[PollResult]:
        async with DevicePoller(served_site, **kwargs) as poller:
            return [await poller.poll_once() for _ in range(cycles)]

    return asyncio.run(scenario())


def test_every_device_of_the_site_answers_with_good_values(
    district: tuple[DistrictThread, SimulatedDistrict], store: Store
) -> None:
    _, served = district
    (result,) = _poll(served.site, store=store)
    assert result.failed() == []
    assert set(result.devices) == {a.id for a in served.site.devices()}
    specs = device_specs(served.site)
    assert result.requests == sum(len(plan_reads(s.register_map)) for s in specs)
    bad = {
        (asset_id, name, v.reason)
        for asset_id, reading in result.devices.items()
        for name, v in reading.values.items()
        if v.quality is not Quality.GOOD
    }
    assert bad == set()
    soc = result.reading("house-01.battery", "soc").value
    assert isinstance(soc, float)
    assert 0 <= soc <= 100
    latest = latest_measurements(store, served.site.id)
    battery = latest[latest["asset_id"] == "house-01.battery"].set_index("quantity")
    assert battery.loc["soc_frac", "value"] == pytest.approx(soc / 100)
    assert result.stored_rows == len(measurements_frame(result))


def test_battery_setpoint_is_clamped_written_confirmed_and_renewed(
    district: tuple[DistrictThread, SimulatedDistrict], sqlite_store: Store
) -> None:
    _, served = district
    site = served.site
    clock = {"now": dt.datetime.now(dt.UTC)}

    async def scenario() -> tuple[Any, Any, DeviceReading]:
        async with DevicePoller(site, None, device_ids=["house-02.battery"]) as poller:
            writer = SetpointWriter(
                site, sqlite_store, "system:test", poller=poller, now=lambda: clock["now"]
            )
            big = await writer.write("house-02.battery", "power_setpoint_w", 99_000)
            clock["now"] += dt.timedelta(seconds=5)  # the ramp allows the full swing by then
            small = await writer.write("house-02.battery", "power_setpoint_w", -1200)
            after = (await poller.poll_once()).devices["house-02.battery"]
            return big, small, after

    big, small, after = asyncio.run(scenario())
    rated_w = site.asset("house-02.battery").params.charge_max_kw * 1000  # type: ignore[union-attr]
    assert big.status is WriteStatus.CLAMPED
    assert big.written == pytest.approx(rated_w)
    assert small.status is WriteStatus.OK
    assert [f.point for f in big.feeds] == ["watchdog_timeout_s", "heartbeat"]
    assert [f.point for f in small.feeds] == ["heartbeat"]
    assert after.values["control_mode"].value == 1
    assert after.values["power_setpoint_w"].value == -1200
    rows = read_setpoint_writes(sqlite_store, site.id, asset_id="house-02.battery")
    assert [r.outcome for r in rows].count("clamped") == 1


def test_ramp_limits_a_fast_swing(district: tuple[DistrictThread, SimulatedDistrict]) -> None:
    _, served = district
    site = served.site
    clock = {"now": dt.datetime.now(dt.UTC)}

    async def scenario() -> Any:
        async with DevicePoller(site, None, device_ids=["house-02.battery"]) as poller:
            writer = SetpointWriter(
                site, None, "system:test", poller=poller, now=lambda: clock["now"]
            )
            await writer.write("house-02.battery", "power_setpoint_w", 3000)
            clock["now"] += dt.timedelta(milliseconds=20)
            return await writer.write("house-02.battery", "power_setpoint_w", -3000)

    swing = asyncio.run(scenario())
    ramp = served.register_map("house-02.battery").point("power_setpoint_w").ramp_per_s
    assert swing.status is WriteStatus.CLAMPED
    assert swing.written == pytest.approx(3000 - ramp * 0.02)  # type: ignore[operator]
    assert "ramp" in swing.detail


def test_command_the_device_refuses_is_a_device_error(
    district: tuple[DistrictThread, SimulatedDistrict],
) -> None:
    _, served = district
    site = served.site
    continuous = next(
        h.id for h in site.houses if h.heat_pump is not None and h.heat_pump.control == "continuous"
    )

    async def scenario() -> Any:
        async with DevicePoller(site, None, device_ids=[f"{continuous}.hp"]) as poller:
            writer = SetpointWriter(site, None, "system:test", poller=poller)
            return await writer.write(f"{continuous}.hp", "sg_ready_state", 3)

    outcome = asyncio.run(scenario())
    assert outcome.status is WriteStatus.DEVICE_ERROR
    assert "exception response 4" in outcome.detail


def test_injected_faults_hit_only_their_device(
    district: tuple[DistrictThread, SimulatedDistrict],
) -> None:
    runner, served = district
    silent, implausible = "house-03.meter", "house-06.battery"
    flow_soc = next(
        p.name for p in served.register_map(implausible).points if p.quantity == "soc_frac"
    )

    async def scenario() -> list[PollResult]:
        # 0.5 s: a healthy device on a busy 2-core machine must not time out
        overrides = {"timeout_s": 0.5, "retries": 0}
        async with DevicePoller(served.site, policy_overrides=overrides) as poller:
            results = [await poller.poll_once()]
            for _ in range(4):  # connections still opening under load: poll until all answer
                if not results[0].failed():
                    break
                results = [await poller.poll_once()]
            runner.call(lambda: served.set_faults(silent, DeviceFaults(no_response_probability=1)))
            runner.call(
                lambda: served.set_faults(implausible, DeviceFaults(values={flow_soc: 250}))
            )
            try:
                for _ in range(3):
                    results.append(await poller.poll_once())
            finally:
                runner.call(lambda: served.set_faults(silent, None))
                runner.call(lambda: served.set_faults(implausible, None))
            return results

    results = asyncio.run(scenario())
    assert results[0].failed() == []
    last = results[-1]
    assert last.failed() == [silent]
    assert last.stale() == [silent]
    assert {v.quality for v in last.devices[silent].values.values()} == {Quality.STALE}
    assert last.devices[implausible].values[flow_soc].quality is Quality.INVALID
    others = [r for a, r in last.devices.items() if a not in (silent, implausible)]
    assert all(r.ok for r in others)
    assert all(v.quality is Quality.GOOD for r in others for v in r.values.values())
