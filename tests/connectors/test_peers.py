"""The simulated devices as seen by Modbus stacks nobody here wrote.

- Debian's `mbpoll` (installed by scripts/ensure-system-deps.sh): raw registers, 32-bit integers
  and floats in both word orders, exception responses as exit code 1, writes.
- pysunspec2's SunSpec client: scans 'SunS' and the model chain itself, then reads the models;
  values must equal the physics snapshot, scaled by the device's scale factors.

Without mbpoll the mbpoll tests are skipped, except under CI (CI set), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from test_simulated_support import Simulated

MBPOLL = shutil.which("mbpoll")


@pytest.fixture(scope="module")
def mbpoll() -> str:
    if MBPOLL is None:
        if os.environ.get("CI"):
            pytest.fail("mbpoll is required under CI: run scripts/ensure-system-deps.sh")
        pytest.skip("mbpoll not installed (run scripts/ensure-system-deps.sh)")
    return MBPOLL


def run_mbpoll(
    mbpoll: str, simulated: Simulated, asset: str, *options: str, write: str | None = None
) -> subprocess.CompletedProcess[str]:
    """One mbpoll poll (PDU addressing) of a served device; ``write`` writes that value."""
    host, port, unit = simulated.endpoint(asset)
    command = [mbpoll, "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1", "-o", "2"]
    command += [*options, host]
    if write is not None:
        command += ["--", write]
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)


def values_of(output: str) -> dict[int, str]:
    """mbpoll's result lines '[40000]: 0x5375' as {40000: '0x5375'}."""
    return {int(a): v.strip() for a, v in re.findall(r"^\[(\d+)\]:\s+(\S+)", output, re.M)}


def test_mbpoll_sees_the_sunspec_marker(mbpoll, simulated: Simulated):
    result = run_mbpoll(mbpoll, simulated, "grid.meter", "-r", "40000", "-c", "2", "-t", "4:hex")
    assert result.returncode == 0, result.stderr
    assert values_of(result.stdout) == {40000: "0x5375", 40001: "0x6E53"}


def test_mbpoll_reads_battery_registers_equal_to_the_physics(mbpoll, healthy: Simulated):
    healthy.pause()
    reading = healthy.snapshot().batteries["house-02.battery"]
    soc = run_mbpoll(mbpoll, healthy, "house-02.battery", "-r", "1000", "-t", "4")
    capacity = run_mbpoll(mbpoll, healthy, "house-02.battery", "-r", "1003", "-t", "4:int", "-B")
    assert soc.returncode == 0, soc.stderr
    assert int(values_of(soc.stdout)[1000]) == round(reading.soc_frac * 1000)
    assert int(values_of(capacity.stdout)[1003]) == 7700  # Wh, from the site config


def test_mbpoll_reads_little_endian_floats_of_the_flow_battery(mbpoll, healthy: Simulated):
    healthy.pause()
    reading = healthy.snapshot().batteries["house-06.battery"]
    result = run_mbpoll(mbpoll, healthy, "house-06.battery", "-r", "0", "-c", "2", "-t", "3:float")
    assert result.returncode == 0, result.stderr
    values = values_of(result.stdout)
    assert float(values[0]) == pytest.approx(reading.soc_frac * 100, abs=1e-3)
    assert float(values[2]) == pytest.approx(reading.power_kw, abs=1e-3)


def test_mbpoll_gets_exit_1_for_refused_writes(mbpoll, simulated: Simulated):
    read_only = run_mbpoll(
        mbpoll, simulated, "house-01.battery", "-r", "1000", "-t", "4", write="500"
    )
    out_of_range = run_mbpoll(mbpoll, simulated, "house-01.hp", "-r", "1", "-t", "4", write="9")
    assert read_only.returncode == 1
    assert "Illegal data address" in read_only.stderr + read_only.stdout
    assert out_of_range.returncode == 1
    assert "Illegal data value" in out_of_range.stderr + out_of_range.stdout


def test_mbpoll_writes_a_battery_setpoint(mbpoll, healthy: Simulated):
    asset = "house-01.battery"
    watchdog = run_mbpoll(mbpoll, healthy, asset, "-r", "1103", "-t", "4", write="600")
    result = run_mbpoll(mbpoll, healthy, asset, "-r", "1101", "-t", "4:int", "-B", write="-1500")
    assert watchdog.returncode == 0, watchdog.stderr + watchdog.stdout
    assert result.returncode == 0, result.stderr + result.stdout
    reading = healthy.snapshot().batteries[asset]
    assert reading.setpoint_kw == pytest.approx(-1.5)
    assert str(reading.mode) == "remote"
    release = run_mbpoll(mbpoll, healthy, asset, "-r", "1100", "-t", "4", write="0")
    assert release.returncode == 0, release.stderr + release.stdout
    assert str(healthy.snapshot().batteries[asset].mode) == "local"


def test_mbpoll_reads_and_limits_the_ev_charger(mbpoll, healthy: Simulated):
    asset = "carport-ev"
    rating = run_mbpoll(mbpoll, healthy, asset, "-r", "2009", "-t", "4:int", "-B")
    assert rating.returncode == 0, rating.stderr
    assert int(values_of(rating.stdout)[2009]) == 11000  # W, from the site config
    limit = run_mbpoll(mbpoll, healthy, asset, "-r", "2101", "-t", "4:int", "-B", write="4200")
    assert limit.returncode == 0, limit.stderr + limit.stdout
    reading = healthy.snapshot().ev_chargers[asset]
    assert reading.setpoint_kw == pytest.approx(4.2)
    assert str(reading.mode) == "remote"
    state = run_mbpoll(mbpoll, healthy, asset, "-r", "2000", "-t", "4")
    assert int(values_of(state.stdout)[2000]) == healthy.snapshot().ev_chargers[asset].vehicle_state
    release = run_mbpoll(mbpoll, healthy, asset, "-r", "2100", "-t", "4", write="0")
    assert release.returncode == 0, release.stderr + release.stdout
    assert str(healthy.snapshot().ev_chargers[asset].mode) == "local"


def scan(simulated: Simulated, asset: str) -> SunSpecModbusClientDeviceTCP:
    host, port, unit = simulated.endpoint(asset)
    device = SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr=host, ipport=port, timeout=2)
    device.scan()
    return device


def test_pysunspec2_scans_a_meter_and_reads_the_physics(healthy: Simulated):
    healthy.pause()
    reading = healthy.snapshot().meters["house-01.meter"]
    device = scan(healthy, "house-01.meter")
    try:
        assert {1, 203} <= set(device.models)
        common = device.common[0]
        assert common.SN.cvalue == "house-01.meter"
        meter = device.ac_meter_abcn[0]
        step_w = 10.0**meter.W_SF.value
        assert meter.W.cvalue == pytest.approx(reading.power_kw * 1000, abs=step_w / 2 + 1e-9)
        step_wh = 10.0**meter.TotWh_SF.value
        counters = ((meter.TotWhImp, reading.import_kwh), (meter.TotWhExp, reading.export_kwh))
        for counter, kwh in counters:
            if round(kwh * 1000 / step_wh) == 0:
                assert counter.cvalue is None  # SunSpec acc32: 0 means "not accumulated"
            else:
                assert counter.cvalue == pytest.approx(kwh * 1000, abs=step_wh)
        assert meter.Hz.cvalue == pytest.approx(50.0)
    finally:
        device.close()


def test_pysunspec2_scans_an_inverter_and_reads_the_physics(healthy: Simulated):
    healthy.pause()
    reading = healthy.snapshot().pv["house-05.pv"]
    device = scan(healthy, "house-05.pv")
    try:
        assert [m.model_id for m in device.model_list] == [1, 103, 123]
        inverter = device.inverter_three_phase[0]
        step_w = 10.0**inverter.W_SF.value
        assert reading.power_kw > 0  # a June morning
        assert inverter.W.cvalue == pytest.approx(reading.power_kw * 1000, abs=step_w / 2 + 1e-9)
        assert inverter.St.value == 4  # MPPT
        controls = device.controls[0]
        assert controls.WMaxLim_Ena.value == 0
    finally:
        device.close()
