"""A small asyncio Modbus TCP server for simulated devices.

Why our own and not pymodbus' server: the simulated district needs register values that change
while the physics runs, writes that are validated per point and turned into commands, and faults at
the level of one request or one connection (delay, exception response, dropped connection, silence
for unknown unit ids). pymodbus 3.16's old datastore classes are deprecated for v4, and its new
``SimDevice`` action hook cannot close a connection or see which connection a request came on. The
Modbus TCP framing (MBAP header plus PDU, function codes 1-6, 15 and 16) is small enough to serve
directly, and independent peers (mbpoll, pysunspec2, pymodbus' client) check it in the tests.

A ``ModbusTcpServer`` listens on one host/port and answers for the unit ids it is given. Each unit
is a ``UnitHandler``: ``read(table, address, count)`` and ``write(table, address, values)``, which
raise ``ModbusServerError(code)`` to answer with a Modbus exception. An optional ``RequestHook`` is
awaited before each request and may delay it, answer it with an exception, drop the connection or
stay silent (fault injection).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from connectors.registermap import RegisterTable

__all__ = [
    "Action",
    "Decision",
    "ModbusServerError",
    "ModbusTcpServer",
    "Request",
    "RequestHook",
    "UnitHandler",
    "crc16",
]

logger = logging.getLogger(__name__)

ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
SERVER_DEVICE_FAILURE = 4

_READ_TABLES = {
    1: RegisterTable.COIL,
    2: RegisterTable.DISCRETE_INPUT,
    3: RegisterTable.HOLDING,
    4: RegisterTable.INPUT,
}


class ModbusServerError(Exception):
    """Raised by a unit handler to answer a request with Modbus exception ``code``."""

    def __init__(self, code: int, reason: str = ""):
        self.code = code
        self.reason = reason
        super().__init__(f"exception {code}: {reason}" if reason else f"exception {code}")


class UnitHandler(Protocol):
    """The registers of one unit id."""

    def read(self, table: RegisterTable, address: int, count: int) -> list[int] | list[bool]: ...

    def write(
        self, table: RegisterTable, address: int, values: Sequence[int] | Sequence[bool]
    ) -> None: ...


class Action(enum.Enum):
    PROCEED = "proceed"
    EXCEPTION = "exception"
    DROP = "drop"
    SILENT = "silent"


@dataclass(frozen=True)
class Request:
    """What a request hook gets to see."""

    unit_id: int
    function_code: int
    connection_requests: int  # requests seen on this connection, this one included
    peer: str


@dataclass(frozen=True)
class Decision:
    """A request hook's answer: wait ``delay_s`` first, then act."""

    action: Action = Action.PROCEED
    delay_s: float = 0.0
    code: int = SERVER_DEVICE_FAILURE


RequestHook = Callable[[Request], Awaitable[Decision]]


class ModbusTcpServer:
    """Serve ``units`` (unit id -> handler) on ``host:port`` (port 0 picks a free port).

    With ``ssl_context`` (a server-side context) it serves Modbus/TCP Security: the same MBAP
    framing inside TLS. With ``framing="rtu"`` it speaks RTU frames (unit, PDU, CRC-16) over the
    TCP stream, as serial-to-Ethernet converters in transparent mode do; RTU clients reach it
    through a pyserial URL (socket://host:port).
    """

    def __init__(
        self,
        host: str,
        port: int,
        units: Mapping[int, UnitHandler],
        *,
        unknown_unit: Literal["exception", "silent"] = "exception",
        hook: RequestHook | None = None,
        name: str = "",
        ssl_context: ssl.SSLContext | None = None,
        framing: Literal["tcp", "rtu"] = "tcp",
    ):
        self.host = host
        self.port = port
        self.units = dict(units)
        self.unknown_unit = unknown_unit
        self.hook = hook
        self.name = name or f"{host}:{port}"
        self.ssl_context = ssl_context
        self.framing = framing
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests_served = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        logger.debug("%s listening on %s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._connections.add(writer)
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "?"
        count = 0
        try:
            while True:
                frame = await self._read_frame(reader)
                if frame is None:
                    logger.debug("%s: malformed frame from %s, closing", self.name, peer_text)
                    return
                transaction, unit, pdu = frame
                count += 1
                decision = Decision()
                if self.hook is not None:
                    decision = await self.hook(Request(unit, pdu[0], count, peer_text))
                if decision.delay_s > 0:
                    await asyncio.sleep(decision.delay_s)
                if decision.action is Action.DROP:
                    return
                if decision.action is Action.SILENT:
                    continue
                if decision.action is Action.EXCEPTION:
                    response = bytes([pdu[0] | 0x80, decision.code])
                else:
                    answer = self._answer(unit, pdu)
                    if answer is None:
                        continue
                    response = answer
                self.requests_served += 1
                writer.write(self._frame(transaction, unit, response))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except asyncio.CancelledError:
            return
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_frame(self, reader: asyncio.StreamReader) -> tuple[int, int, bytes] | None:
        """(transaction id, unit id, PDU) of the next request; None if it is malformed."""
        if self.framing == "rtu":
            head = await reader.readexactly(2)  # unit, function code
            function = head[1]
            if function in (15, 16):
                more = await reader.readexactly(5)  # address, count, byte count
                rest = await reader.readexactly(more[4] + 2)
                body = head + more + rest
            else:
                body = head + await reader.readexactly(6)  # address, value/count, CRC
            if crc16(body[:-2]) != body[-2:]:
                return None
            return 0, body[0], body[1:-2]
        header = await reader.readexactly(7)
        transaction, protocol, length, unit = struct.unpack(">HHHB", header)
        if protocol != 0 or not 2 <= length <= 254:
            return None
        return transaction, unit, await reader.readexactly(length - 1)

    def _frame(self, transaction: int, unit: int, pdu: bytes) -> bytes:
        if self.framing == "rtu":
            body = bytes([unit]) + pdu
            return body + crc16(body)
        return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu

    def _answer(self, unit: int, pdu: bytes) -> bytes | None:
        function = pdu[0]
        handler = self.units.get(unit)
        if handler is None:
            if self.unknown_unit == "silent" or self.framing == "rtu":
                return None  # on a serial bus, a request for another address gets no answer
            return bytes([function | 0x80, SERVER_DEVICE_FAILURE])
        try:
            return _execute(handler, pdu)
        except ModbusServerError as exc:
            logger.debug("%s unit %d: function %d -> %s", self.name, unit, function, exc)
            return bytes([function | 0x80, exc.code])
        except struct.error:
            return bytes([function | 0x80, ILLEGAL_DATA_VALUE])


def _execute(handler: UnitHandler, pdu: bytes) -> bytes:
    function = pdu[0]
    if function in _READ_TABLES:
        address, count = struct.unpack(">HH", pdu[1:5])
        table = _READ_TABLES[function]
        limit = 2000 if function in (1, 2) else 125
        if not 1 <= count <= limit:
            raise ModbusServerError(ILLEGAL_DATA_VALUE, f"count {count} outside 1..{limit}")
        if address + count > 65536:
            raise ModbusServerError(ILLEGAL_DATA_ADDRESS, "read beyond address 65535")
        values = handler.read(table, address, count)
        if function in (1, 2):
            data = _pack_bits([bool(v) for v in values])
        else:
            data = struct.pack(f">{count}H", *values)
        return bytes([function, len(data)]) + data
    if function == 5:
        address, raw = struct.unpack(">HH", pdu[1:5])
        if raw not in (0x0000, 0xFF00):
            raise ModbusServerError(ILLEGAL_DATA_VALUE, f"coil value 0x{raw:04X}")
        handler.write(RegisterTable.COIL, address, [raw == 0xFF00])
        return pdu[:5]
    if function == 6:
        address, value = struct.unpack(">HH", pdu[1:5])
        handler.write(RegisterTable.HOLDING, address, [value])
        return pdu[:5]
    if function == 15:
        address, count, nbytes = struct.unpack(">HHB", pdu[1:6])
        if not 1 <= count <= 1968 or nbytes != (count + 7) // 8 or len(pdu) < 6 + nbytes:
            raise ModbusServerError(ILLEGAL_DATA_VALUE, "malformed write multiple coils")
        bits = _unpack_bits(pdu[6 : 6 + nbytes], count)
        handler.write(RegisterTable.COIL, address, bits)
        return pdu[:5]
    if function == 16:
        address, count, nbytes = struct.unpack(">HHB", pdu[1:6])
        if not 1 <= count <= 123 or nbytes != 2 * count or len(pdu) < 6 + nbytes:
            raise ModbusServerError(ILLEGAL_DATA_VALUE, "malformed write multiple registers")
        values = list(struct.unpack(f">{count}H", pdu[6 : 6 + nbytes]))
        handler.write(RegisterTable.HOLDING, address, values)
        return pdu[:5]
    raise ModbusServerError(ILLEGAL_FUNCTION, f"function {function} not supported")


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC-16 (polynomial 0xA001, initial 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def _pack_bits(bits: Sequence[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> list[bool]:
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]
