"""Modbus servers for the client tests (helpers only; no tests here).

- `TkServer`: a modbus-tk TCP server (an independent Modbus stack, not pymodbus) in its own thread,
  with all four tables of one unit.
- `ScriptedServer`: a raw Modbus/TCP server on asyncio whose answer to each request is decided by a
  script: answer from its register image, stay silent, send an exception response, or drop the
  connection. It exists to produce faults a well-behaved server never shows.
- `reference_registers`: an encoder written independently of connectors.codec (struct, by the
  Modbus/SunSpec conventions), used to put values into servers.
- `sunspec_test_image`: a SunSpec register image rendered by pysunspec2 (the SunSpec Alliance's
  library), plus a vendor model no definition knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modbus_tk import defines as tk_defines
from modbus_tk import modbus_tcp
from sunspec2.device import Device

from connectors.registermap import Point, RegisterMap
from energy.config import DeviceEndpoint
from tests.ports import free_port

__all__ = [
    "ScriptedServer",
    "TkServer",
    "endpoint",
    "free_port",
    "reference_registers",
    "register_map",
    "sunspec_test_image",
]

TK_BLOCKS = {
    "holding": ("h", tk_defines.HOLDING_REGISTERS),
    "input": ("i", tk_defines.ANALOG_INPUTS),
    "coil": ("c", tk_defines.COILS),
    "discrete_input": ("d", tk_defines.DISCRETE_INPUTS),
}

_STRUCT = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}


def endpoint(port: int, **overrides: Any) -> DeviceEndpoint:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "unit_id": 1,
        "register_map": "test.yaml",
        "timeout_s": 0.3,
        "retries": 0,
        "stale_after_failures": 2,
    }
    values.update(overrides)
    return DeviceEndpoint(**values)


def register_map(points: list[dict[str, Any]], **header: Any) -> RegisterMap:
    return RegisterMap.model_validate({"name": "test", **header, "points": points})


def reference_registers(
    dtype: str,
    raw: int | float | str,
    *,
    word_order: str = "big",
    byte_order: str = "big",
    length: int | None = None,
) -> list[int]:
    """Registers for a raw (unscaled) value: big-endian bytes cut into words, then the words
    reversed for little word order (not for strings) and the bytes of each word swapped for
    little byte order."""
    if dtype == "string":
        assert isinstance(raw, str)
        assert length is not None
        data = raw.encode("ascii").ljust(2 * length, b"\0")
    else:
        data = struct.pack(">" + _STRUCT[dtype], raw)
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little" and dtype != "string":
        words = words[::-1]
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


class TkServer:
    """A modbus-tk server on 127.0.0.1 with one unit whose four tables span `size` entries."""

    def __init__(self, port: int | None = None, unit_id: int = 1, size: int = 1000):
        self.port = port or free_port()
        self._server = modbus_tcp.TcpServer(port=self.port, address="127.0.0.1")
        self.slave = self._server.add_slave(unit_id)
        for name, kind in TK_BLOCKS.values():
            self.slave.add_block(name, kind, 0, size)

    def set(self, table: str, address: int, values: list[int]) -> None:
        self.slave.set_values(TK_BLOCKS[table][0], address, values)

    def get(self, table: str, address: int, count: int) -> list[int]:
        return list(self.slave.get_values(TK_BLOCKS[table][0], address, count))

    def start(self) -> TkServer:
        self._server.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return self
            time.sleep(0.02)
        raise RuntimeError(f"modbus-tk server did not start on port {self.port}")

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> TkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- scripted raw server ---------------------------------------------------------------------

ANSWER, SILENT, DROP = "answer", "silent", "drop"
Action = str | int  # ANSWER, SILENT, DROP, or an exception code to send


@dataclass
class Request:
    unit: int
    function: int
    address: int
    count: int


@dataclass
class ScriptedServer:
    """Raw Modbus/TCP on asyncio. `script(request, n)` (n counts requests from 0) decides what to
    do; the default answers everything from `holding`/`input` (address -> register)."""

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    script: Callable[[Request, int], Action] = lambda request, n: ANSWER
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> ScriptedServer:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, ssl=ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _pid, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                function = pdu[0]
                address, count = struct.unpack(">HH", pdu[1:5])
                request = Request(unit, function, address, count)
                action = self.script(request, len(self.requests))
                self.requests.append(request)
                if action == SILENT:
                    continue
                if action == DROP:
                    break
                reply = (
                    bytes([function | 0x80, action])
                    if isinstance(action, int)
                    else self._answer(function, address, count, pdu)
                )
                writer.write(struct.pack(">HHHB", tid, 0, len(reply) + 1, unit) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, function: int, address: int, count: int, pdu: bytes) -> bytes:
        if function in (3, 4):
            image = self.holding if function == 3 else self.input
            if any(a not in image for a in range(address, address + count)):
                return bytes([function | 0x80, 2])
            data = b"".join(struct.pack(">H", image[a]) for a in range(address, address + count))
            return bytes([function, len(data)]) + data
        if function == 16:
            values = struct.unpack(f">{count}H", pdu[6 : 6 + 2 * count])
            for offset, value in enumerate(values):
                self.holding[address + offset] = value
            return pdu[:5]
        if function == 6:
            self.holding[address] = count
            return pdu[:5]
        return bytes([function | 0x80, 1])


@contextlib.contextmanager
def running(server: TkServer) -> Iterator[TkServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point(name: str, address: int, **kwargs: Any) -> Point:
    return Point.model_validate({"name": name, "address": address, **kwargs})


SUNSPEC_MODELS: list[dict[str, Any]] = [
    {"ID": 1, "L": 66, "Mn": "Klimaviertel", "Md": "WR-10", "SN": "KV-0042", "DA": 1},
    {
        "ID": 103,
        "L": 50,
        "A": 1234,
        "A_SF": -2,
        "W": 5120,
        "W_SF": 0,
        "Hz": 5002,
        "Hz_SF": -2,
        "WH": 123456,
        "WH_SF": 1,
        "St": 4,
        "TmpCab": 251,
        "Tmp_SF": -1,
    },
    {
        "ID": 160,
        "L": 8 + 2 * 20,
        "DCA_SF": -2,
        "DCV_SF": -1,
        "DCW_SF": 0,
        "DCWH_SF": 0,
        "N": 2,
        "module": [
            {"ID": 1, "IDStr": "East", "DCA": 512, "DCV": 3501, "DCW": 1790},
            {"ID": 2, "IDStr": "West", "DCA": 300, "DCV": 3400, "DCW": 1020},
        ],
    },
    {"ID": 64999, "L": 3},  # a vendor model nobody defines
]


def sunspec_test_image(base: int) -> dict[int, int]:
    """'SunS' at `base`, models 1, 103 and 160 (two MPPT modules) rendered by pysunspec2, then a
    vendor model 64999 that no definition knows, then the end marker."""
    known = [m for m in SUNSPEC_MODELS if m["ID"] != 64999]
    device = Device()
    device._set_dict({"name": "test", "models": known})
    data = device.get_mb()
    registers = [0x5375, 0x6E53]
    registers += [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    registers += [64999, 3, 7, 8, 9, 0xFFFF, 0]
    return {base + i: r for i, r in enumerate(registers)}
