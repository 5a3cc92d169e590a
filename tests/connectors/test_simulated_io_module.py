"""The control box's digital I/O module in the simulated district (WAGO 750-352 map): its inputs
switched by the test or by a fault plan's values, read over Modbus TCP; its outputs written."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from test_simulated_support import SIM_START, Simulated, read_device

from connectors.modbus_adapter import ModbusConnection
from connectors.registermap import RegisterTable
from connectors.simulated import DeviceFaults, DistrictThread
from connectors.simulated.faults import FaultPlan
from energy.config import (
    CONTROL_BOX_ID,
    ControlBoxConfig,
    ControlBoxContact,
    DeviceEndpoint,
    GridSignalsConfig,
)
from energy.site import Site


def with_control_box(site: Site) -> Site:
    box = ControlBoxConfig(
        device=DeviceEndpoint(port=15190, register_map="wago_750_352_io.yaml"),
        contacts=[ControlBoxContact(point="di_1", dimming_kw=16.8)],
    )
    signals = GridSignalsConfig(control_box=box)
    return Site.from_config(site.config.model_copy(update={"grid_signals": signals}))


@pytest.fixture(scope="module")
def boxed(site: Site) -> Iterator[Simulated]:
    plan = FaultPlan(devices={CONTROL_BOX_ID: DeviceFaults(values={"di_8": True})})
    runner = DistrictThread(
        with_control_box(site), start=SIM_START, free_ports=True, refresh_s=0.05, faults=plan
    )
    district = runner.start(timeout_s=60)
    try:
        yield Simulated(runner, district)
    finally:
        runner.stop()


def test_the_module_is_served_with_its_process_image(boxed: Simulated) -> None:
    served = boxed.district.served(CONTROL_BOX_ID)
    assert served.register_map == "wago_750_352_io.yaml"
    signals = boxed.district.site.config.grid_signals
    assert signals is not None
    assert signals.control_box is not None
    assert signals.control_box.device.port == served.port  # the served site says where
    values = read_device(boxed, CONTROL_BOX_ID)
    assert values["digital_in_bits"] == 8
    assert values["digital_out_bits"] == 8
    assert values["di_1"] is False
    assert values["di_8"] is True  # the fault plan's scenario value


def test_switched_inputs_are_read_over_modbus(boxed: Simulated) -> None:
    boxed.call(lambda: boxed.district.switch_inputs({"di_1": True, "di_2": True}))
    values = read_device(boxed, CONTROL_BOX_ID)
    assert (values["di_1"], values["di_2"], values["di_3"]) == (True, True, False)
    boxed.call(lambda: boxed.district.switch_inputs({"di_1": False}))
    assert read_device(boxed, CONTROL_BOX_ID)["di_1"] is False
    with pytest.raises(ValueError, match="unknown points"):
        boxed.call(lambda: boxed.district.switch_inputs({"di_9": True}))


def test_outputs_are_written_and_read_back_at_0x0200(boxed: Simulated) -> None:
    host, port, unit = boxed.endpoint(CONTROL_BOX_ID)

    async def scenario() -> list[bool]:
        async with ModbusConnection(host, port, unit, timeout_s=2.0) as conn:
            await conn.write_coil(513, True)
            return list(await conn.read(RegisterTable.COIL, 512, 8))  # type: ignore[arg-type]

    assert asyncio.run(scenario()) == [False, True, False, False, False, False, False, False]
