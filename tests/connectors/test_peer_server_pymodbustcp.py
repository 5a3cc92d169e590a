"""Polling and writing against pyModbusTCP's server: a second Modbus stack besides modbus-tk that
is not pymodbus, so the client is shown to speak the protocol rather than pymodbus to pymodbus."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pyModbusTCP.server import DataBank, ModbusServer
from test_peer_server_support import endpoint, free_port, reference_registers, register_map

from connectors.poller import DevicePoller, DeviceSpec
from connectors.writer import SetpointWriter, WriteStatus
from energy.quality import Quality
from energy.site import Site

POINTS: list[dict[str, Any]] = [
    {"name": "energy_wh", "table": "input", "address": 0, "dtype": "uint64", "unit": "Wh"},
    {"name": "temp_c", "table": "input", "address": 4, "dtype": "float32", "word_order": "little"},
    {"name": "power_w", "address": 10, "dtype": "int32", "unit": "W", "access": "rw",
     "min": -3000, "max": 3000},
    {"name": "mode", "address": 12, "dtype": "uint16", "access": "rw", "min": 0, "max": 3},
    {"name": "relay", "table": "coil", "address": 3, "dtype": "bool", "access": "rw"},
    {"name": "fault", "table": "discrete_input", "address": 9, "dtype": "bool"},
]  # fmt: skip


@pytest.fixture(scope="module")
def bank() -> Iterator[tuple[DataBank, int]]:
    port = free_port()
    data_bank = DataBank()
    server = ModbusServer("127.0.0.1", port, no_block=True, data_bank=data_bank)
    server.start()
    try:
        yield data_bank, port
    finally:
        server.stop()


def test_poll_reads_every_table(bank: tuple[DataBank, int]) -> None:
    data_bank, port = bank
    data_bank.set_input_registers(0, reference_registers("uint64", 123_456_789_012))
    data_bank.set_input_registers(4, reference_registers("float32", 55.25, word_order="little"))
    data_bank.set_holding_registers(10, [*reference_registers("int32", -1500), 2])
    data_bank.set_coils(3, [True])
    data_bank.set_discrete_inputs(9, [True])
    spec = DeviceSpec("dev", endpoint(port), register_map(POINTS))

    async def scenario() -> Any:
        async with DevicePoller(devices=[spec], site_id="s") as poller:
            return await poller.poll_once()

    reading = asyncio.run(scenario()).devices["dev"]
    assert reading.ok
    values = {name: v.value for name, v in reading.values.items()}
    assert values == {
        "energy_wh": 123_456_789_012,
        "temp_c": 55.25,
        "power_w": -1500,
        "mode": 2,
        "relay": True,
        "fault": True,
    }
    assert {v.quality for v in reading.values.values()} == {Quality.GOOD}


def test_write_path_round_trips(bank: tuple[DataBank, int], site: Site) -> None:
    data_bank, port = bank
    spec = DeviceSpec("house-01.battery", endpoint(port), register_map(POINTS))

    async def scenario() -> list[Any]:
        async with DevicePoller(devices=[spec], site_id=site.id) as poller:
            writer = SetpointWriter(site, None, "system:test", poller=poller)
            return [
                await writer.write("house-01.battery", "power_w", 4200),
                await writer.write("house-01.battery", "mode", 1),
                await writer.write("house-01.battery", "relay", False),
            ]

    power, mode, relay = asyncio.run(scenario())
    assert (power.status, power.written, power.read_back) == (WriteStatus.CLAMPED, 3000, 3000)
    assert data_bank.get_holding_registers(10, 2) == reference_registers("int32", 3000)
    assert (mode.status, data_bank.get_holding_registers(12, 1)) == (WriteStatus.OK, [1])
    assert (relay.status, data_bank.get_coils(3, 1)) == (WriteStatus.OK, [False])
