"""Figures of the simulated district served over Modbus TCP (prints, never asserts).

    .venv/bin/python bench/simulate_bench.py [--rounds 20] [--speed 60]

- start: building the physics (profiles for the year) and binding 30 servers;
- tick: advancing the physics by one refresh interval at the given speed and re-encoding every
  device's registers (the refresh loop's cost per wall interval);
- reads: every point of every device through connectors.modbus_adapter, one connection per
  device, all devices concurrently, `rounds` times: requests per second and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time

from connectors.codec import decode_block
from connectors.modbus_adapter import ModbusConnection
from connectors.registermap import plan_reads
from connectors.simulated import SimulatedDistrict
from energy.site import load_site


async def main(rounds: int, speed: float) -> None:
    site = load_site()
    t0 = time.perf_counter()
    district = SimulatedDistrict(
        site, speed=speed, start=dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC), free_ports=True
    )
    t1 = time.perf_counter()
    await district.start()
    t2 = time.perf_counter()
    print(f"start: physics {t1 - t0:.2f} s, 30 servers + first refresh {t2 - t1:.3f} s")

    district.pause()
    step_s = speed * district.refresh_s
    ticks = []
    for _ in range(50):
        started = time.perf_counter()
        district.physics.advance(step_s)
        district.refresh()
        ticks.append(time.perf_counter() - started)
    district.resume()
    print(
        f"tick (advance {speed * district.refresh_s:g} simulated s + refresh 30 devices): "
        f"median {statistics.median(ticks) * 1000:.2f} ms, max {max(ticks) * 1000:.2f} ms"
    )

    async def read_all(asset_id: str) -> list[float]:
        served = district.served(asset_id)
        register_map = district.register_map(asset_id)
        blocks = plan_reads(register_map)
        latencies = []
        async with ModbusConnection(served.host, served.port, served.unit_id, 2.0) as conn:
            for _ in range(rounds):
                values: dict = {}
                for block in blocks:
                    started = time.perf_counter()
                    registers = await conn.read(block.table, block.address, block.count)
                    latencies.append(time.perf_counter() - started)
                    values.update(decode_block(register_map, block, registers, values))
        return latencies

    started = time.perf_counter()
    results = await asyncio.gather(*(read_all(d.asset_id) for d in district.devices))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r)
    print(
        f"reads: {len(latencies)} requests from {len(results)} concurrent clients in "
        f"{elapsed:.2f} s = {len(latencies) / elapsed:.0f} requests/s; latency median "
        f"{statistics.median(latencies) * 1000:.2f} ms, p95 "
        f"{latencies[int(0.95 * len(latencies))] * 1000:.2f} ms"
    )
    print(f"status: {district.status()}")
    await district.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--speed", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.speed))
