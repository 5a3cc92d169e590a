"""Helpers for tests against the simulated district (no tests here; fixtures in conftest.py).

`Simulated` wraps a running `DistrictThread`: `call` runs a function in the district's event loop,
`pause`/`resume` stop and restart its clock, `snapshot` reads the physics, `endpoint` says where a
device answers. `read_device` reads and decodes every point of a served device through our adapter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connectors.codec import Value, decode_block
from connectors.modbus_adapter import ModbusConnection
from connectors.registermap import RegisterMap, plan_reads
from connectors.simulated import DistrictThread, SimulatedDistrict
from energy.site import Site

__all__ = ["SIM_SPEED", "SIM_START", "Simulated", "read_device", "read_points"]

SIM_SPEED = 15.0
SIM_START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


class Simulated:
    """A running simulated district plus helpers that run in its event loop."""

    def __init__(self, runner: DistrictThread, district: SimulatedDistrict):
        self.runner = runner
        self.district = district

    def call(self, function: Any) -> Any:
        return self.runner.call(function)

    def pause(self) -> None:
        self.call(self.district.pause)

    def resume(self) -> None:
        self.call(self.district.resume)

    def snapshot(self) -> Any:
        return self.call(self.district.physics.snapshot)

    def endpoint(self, asset_id: str) -> tuple[str, int, int]:
        served = self.district.served(asset_id)
        return served.host, served.port, served.unit_id


async def read_points(
    host: str, port: int, unit_id: int, register_map: RegisterMap, timeout_s: float = 2.0
) -> dict[str, Value]:
    """Every point of a device, read block by block and decoded."""
    values: dict[str, Value] = {}
    async with ModbusConnection(host, port, unit_id, timeout_s=timeout_s) as conn:
        for block in plan_reads(register_map):
            registers = await conn.read(block.table, block.address, block.count)
            values.update(decode_block(register_map, block, registers, values))
    return values


def read_device(simulated: Simulated, asset_id: str) -> dict[str, Value]:
    host, port, unit = simulated.endpoint(asset_id)
    register_map = simulated.district.register_map(asset_id)
    return asyncio.run(asyncio.wait_for(read_points(host, port, unit, register_map), 20))


@contextmanager
def running_district(site: Site, speed: float = SIM_SPEED) -> Iterator[Simulated]:
    """`site` served on free loopback ports from SIM_START, after its first physics step: a test
    that pauses the district at once (mbpoll tests skipped before it, say) must not read the
    all-zero state before it."""
    runner = DistrictThread(site, speed=speed, start=SIM_START, free_ports=True, refresh_s=0.05)
    simulated = Simulated(runner, runner.start(timeout_s=60))
    deadline = time.monotonic() + 30
    while simulated.snapshot().time <= SIM_START and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield simulated
    finally:
        runner.stop()
