"""Modbus RTU: two devices on one serial bus (reached through pyserial's socket:// URL, an RTU
framed byte stream as from a serial-to-Ethernet converter) are polled concurrently by the poller,
yet the bus never carries two requests at once."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from test_peer_server_support import register_map

from connectors.poller import DevicePoller, DeviceSpec
from energy.config import DeviceEndpoint
from energy.quality import Quality


def crc16(frame: bytes) -> bytes:
    """Modbus RTU CRC-16 (polynomial 0xA001, initial 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


@dataclass
class RtuBus:
    """Units answering read holding/input registers over an RTU byte stream, each answer after
    `delay_s`; records whether a request ever arrived while another was being answered."""

    units: dict[int, dict[int, int]]
    delay_s: float = 0.02
    port: int = 0
    answered: list[int] = field(default_factory=list)
    overlaps: int = 0
    _busy: bool = False
    _server: asyncio.Server | None = None

    async def start(self) -> RtuBus:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frame = await reader.readexactly(8)
                if self._busy:
                    self.overlaps += 1
                self._busy = True
                unit, function, address, count = struct.unpack(">BBHH", frame[:6])
                assert crc16(frame[:6]) == frame[6:], "bad CRC from the client"
                await asyncio.sleep(self.delay_s)
                image = self.units[unit]
                data = b"".join(
                    struct.pack(">H", image[a]) for a in range(address, address + count)
                )
                body = bytes([unit, function, len(data)]) + data
                writer.write(body + crc16(body))
                await writer.drain()
                self.answered.append(unit)
                self._busy = False
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def test_two_units_on_one_bus_are_read_one_after_the_other() -> None:
    rm = register_map([{"name": "v", "address": 0}, {"name": "w", "address": 1, "dtype": "int16"}])

    async def scenario() -> tuple[Any, RtuBus]:
        bus = await RtuBus({1: {0: 11, 1: 0xFFFF}, 2: {0: 22, 1: 5}}).start()
        specs = [
            DeviceSpec(
                f"rtu-{unit}",
                DeviceEndpoint(
                    protocol="rtu",
                    serial_port=f"socket://127.0.0.1:{bus.port}",
                    unit_id=unit,
                    register_map="test.yaml",
                    timeout_s=1.0,
                    retries=0,
                ),
                rm,
            )
            for unit in (1, 2)
        ]
        try:
            async with DevicePoller(devices=specs, site_id="s") as poller:
                results = [await poller.poll_once() for _ in range(3)]
        finally:
            await bus.stop()
        return results, bus

    results, bus = asyncio.run(scenario())
    for result in results:
        assert result.failed() == []
        assert result.reading("rtu-1", "v").value == 11
        assert result.reading("rtu-1", "w").value == -1
        assert result.reading("rtu-2", "v").value == 22
        assert result.reading("rtu-2", "w").quality is Quality.GOOD
    assert sorted(bus.answered) == [1, 1, 1, 2, 2, 2]
    assert bus.overlaps == 0


def test_devices_queued_on_a_slow_bus_are_not_taken_for_dead() -> None:
    """Each answer takes 0.25 s, well inside the 0.4 s timeout; the fourth unit waits 0.75 s for
    the bus first, which must not count against it."""
    rm = register_map([{"name": "v", "address": 0}])
    units = (1, 2, 3, 4)

    async def scenario() -> list[Any]:
        bus = await RtuBus({u: {0: 100 + u} for u in units}, delay_s=0.25).start()
        specs = [
            DeviceSpec(
                f"rtu-{unit}",
                DeviceEndpoint(
                    protocol="rtu",
                    serial_port=f"socket://127.0.0.1:{bus.port}",
                    unit_id=unit,
                    register_map="test.yaml",
                    timeout_s=0.4,
                    retries=0,
                ),
                rm,
            )
            for unit in units
        ]
        try:
            async with DevicePoller(devices=specs, site_id="s") as poller:
                assert {c.policy.bus_devices for c in poller.clients.values()} == {4}
                return [await poller.poll_once() for _ in range(2)]
        finally:
            await bus.stop()

    for result in asyncio.run(scenario()):
        assert result.failed() == []
        assert [result.reading(f"rtu-{u}", "v").value for u in units] == [101, 102, 103, 104]
