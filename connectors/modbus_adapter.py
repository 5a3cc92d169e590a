"""Our one door to pymodbus' client side: a small async connection to one Modbus device.

pymodbus renames and removes API between minor releases (``slave=`` became ``device_id=`` in
3.10), so this module is the only one that imports its client classes; everything else uses
``ModbusConnection`` and our own exception types:

- ``ModbusTimeout``: the device did not answer in time (the connection may still be fine),
- ``ModbusExceptionResponse``: the device answered with a Modbus exception (``code`` 1-11),
- ``ModbusConnectionError``: no connection (refused, dropped, not connected).

Transports: TCP (``ModbusConnection(host, port, unit_id, timeout_s)``), Modbus/TCP Security
(``ssl_context=``: only a caller-supplied context that verifies certificates and host names) and
RTU (``ModbusConnection.rtu(serial_port, baudrate, unit_id)``). All devices on one serial bus share
one pymodbus serial client and one ``asyncio.Lock``, so requests on the bus never interleave.

Reconnecting: pymodbus reconnects a dropped connection in the background with a delay doubling
from ``reconnect_delay_s`` up to ``reconnect_delay_max_s``; a request while disconnected raises
``ModbusConnectionError`` at once instead of waiting.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient, AsyncModbusTlsClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from connectors.registermap import RegisterTable

__all__ = [
    "EXCEPTION_CODES",
    "ModbusConnection",
    "ModbusConnectionError",
    "ModbusError",
    "ModbusExceptionResponse",
    "ModbusTimeout",
    "ModbusTlsConfigError",
]

logger = logging.getLogger(__name__)

#: Modbus exception codes and their names (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

_MAX_COUNT = {
    RegisterTable.HOLDING: 125,
    RegisterTable.INPUT: 125,
    RegisterTable.COIL: 2000,
    RegisterTable.DISCRETE_INPUT: 2000,
}


class ModbusError(Exception):
    """Base of every error this adapter raises; ``where`` names the device."""

    def __init__(self, message: str, where: str = ""):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ModbusTimeout(ModbusError):  # noqa: N818 (name fixed by the connectors interface)
    """No response within the timeout."""


class ModbusConnectionError(ModbusError):
    """Could not connect, or the connection is down."""


class ModbusExceptionResponse(ModbusError):  # noqa: N818 (name fixed by the interface)
    """The device answered with a Modbus exception response."""

    def __init__(self, code: int, function_code: int, where: str = ""):
        self.code = code
        self.function_code = function_code
        name = EXCEPTION_CODES.get(code, "unknown exception")
        super().__init__(
            f"exception response {code} ({name}) to function 0x{function_code:02X}", where
        )


class ModbusTlsConfigError(ValueError):
    """An SSL context that would not verify the device's certificate or host name."""


def _check_ssl_context(context: ssl.SSLContext) -> None:
    if not isinstance(context, ssl.SSLContext):
        raise ModbusTlsConfigError(f"ssl_context must be an ssl.SSLContext; found {context!r}")
    if context.verify_mode == ssl.CERT_NONE:
        raise ModbusTlsConfigError(
            "ssl_context has verify_mode CERT_NONE: Modbus/TCP Security needs the device "
            "certificate verified (load the CA with context.load_verify_locations)"
        )
    if not context.check_hostname:
        raise ModbusTlsConfigError(
            "ssl_context has check_hostname False: the device's host name must be checked "
            "against its certificate"
        )


@dataclass
class _SerialBus:
    """One serial port: one pymodbus client and one lock shared by all devices on it."""

    factory: Callable[[], AsyncModbusSerialClient]
    client: AsyncModbusSerialClient | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0

    def get_client(self) -> AsyncModbusSerialClient:
        if self.client is None:
            self.client = self.factory()
        return self.client


_SERIAL_BUSES: dict[str, _SerialBus] = {}


class ModbusConnection:
    """A long-lived connection to one Modbus device (one unit id behind one endpoint).

    Use ``async with ModbusConnection(...) as conn`` or ``connect()``/``close()``. Reads return
    a list of 16-bit unsigned ints (registers) or bools (coils, discrete inputs), exactly ``count``
    long. Not for concurrent use from several event loops. The pymodbus client is created on
    first use inside the running event loop, so a connection may be built anywhere.
    """

    def __init__(
        self,
        host: str,
        port: int = 502,
        unit_id: int = 1,
        timeout_s: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
        *,
        retries: int = 0,
        reconnect_delay_s: float = 0.1,
        reconnect_delay_max_s: float = 30.0,
    ):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive; found {timeout_s}")
        if not 0 <= unit_id <= 255:
            raise ValueError(f"unit_id must be 0..255; found {unit_id}")
        if reconnect_delay_s <= 0:
            # pymodbus treats 0 as "never reconnect"; a long-lived connection must reconnect.
            raise ValueError(f"reconnect_delay_s must be positive; found {reconnect_delay_s}")
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.timeout_s = timeout_s
        self.where = f"{host}:{port} unit {unit_id}"
        self._bus: _SerialBus | None = None
        self._serial_port: str | None = None
        self._lock = asyncio.Lock()
        common: dict[str, Any] = {
            "port": port,
            "timeout": timeout_s,
            "retries": retries,
            "reconnect_delay": reconnect_delay_s,
            "reconnect_delay_max": max(reconnect_delay_max_s, reconnect_delay_s),
        }
        self._pymodbus: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._factory: Callable[[], AsyncModbusTcpClient | AsyncModbusSerialClient]
        if ssl_context is not None:
            _check_ssl_context(ssl_context)
            self.where = f"{host}:{port} (TLS) unit {unit_id}"
            context = ssl_context
            self._factory = lambda: AsyncModbusTlsClient(host, sslctx=context, **common)
        else:
            self._factory = lambda: AsyncModbusTcpClient(host, **common)

    @classmethod
    def rtu(
        cls,
        serial_port: str,
        baudrate: int = 9600,
        unit_id: int = 1,
        timeout_s: float = 1.0,
        *,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        retries: int = 0,
        reconnect_delay_s: float = 0.1,
        reconnect_delay_max_s: float = 30.0,
    ) -> ModbusConnection:
        """A device on a serial RTU bus; devices on the same ``serial_port`` share bus and lock.

        ``serial_port`` is a device path (/dev/ttyUSB0) or any pyserial URL
        (``socket://127.0.0.1:5020`` reaches an RTU-over-TCP gateway). The first device opened
        on a port fixes its line settings.
        """
        self = cls.__new__(cls)
        if not 1 <= unit_id <= 247:
            raise ValueError(f"an RTU unit_id must be 1..247; found {unit_id}")
        if timeout_s <= 0 or reconnect_delay_s <= 0:
            raise ValueError("timeout_s and reconnect_delay_s must be positive")
        self.host = serial_port
        self.port = 0
        self.unit_id = unit_id
        self.timeout_s = timeout_s
        self.where = f"{serial_port} unit {unit_id}"
        self._serial_port = serial_port
        self._pymodbus = None
        bus = _SERIAL_BUSES.get(serial_port)
        if bus is None:
            factory = functools.partial(
                AsyncModbusSerialClient,
                serial_port,
                framer=FramerType.RTU,
                baudrate=baudrate,
                bytesize=bytesize,
                parity=parity,
                stopbits=stopbits,
                timeout=timeout_s,
                retries=retries,
                reconnect_delay=reconnect_delay_s,
                reconnect_delay_max=max(reconnect_delay_max_s, reconnect_delay_s),
            )
            bus = _SERIAL_BUSES[serial_port] = _SerialBus(factory=factory)
        bus.users += 1
        self._bus = bus
        self._factory = bus.get_client
        self._lock = bus.lock
        return self

    @property
    def _client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._pymodbus is None:
            self._pymodbus = self._factory()
        return self._pymodbus

    @property
    def connected(self) -> bool:
        return self._pymodbus is not None and bool(self._pymodbus.connected)

    @property
    def bus_lock(self) -> asyncio.Lock:
        """The lock serializing requests on this connection (shared by a serial bus)."""
        return self._lock

    async def connect(self) -> None:
        """Open the connection; ModbusConnectionError if the device cannot be reached."""
        if self.connected:
            return
        try:
            ok = await asyncio.wait_for(self._client.connect(), timeout=self.timeout_s + 1.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            raise ModbusConnectionError(f"cannot connect: {exc}", self.where) from None
        if not ok:
            raise ModbusConnectionError("cannot connect (refused or unreachable)", self.where)
        logger.debug("connected to %s", self.where)

    async def close(self) -> None:
        """Close the connection (for RTU: the bus closes when its last device closes)."""
        if self._bus is not None:
            if self._bus.users > 0:
                self._bus.users -= 1
            if self._bus.users == 0:
                if self._bus.client is not None:
                    self._bus.client.close()
                if _SERIAL_BUSES.get(self._serial_port or "") is self._bus:
                    del _SERIAL_BUSES[self._serial_port or ""]
            self._bus = None
            self._pymodbus = None
            return
        if self._pymodbus is not None:
            self._pymodbus.close()

    async def __aenter__(self) -> ModbusConnection:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def read(
        self, table: RegisterTable | str, address: int, count: int
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits of ``table`` from 0-based ``address``."""
        table = RegisterTable(table)
        if not 1 <= count <= _MAX_COUNT[table]:
            raise ValueError(
                f"count for {table.value} must be 1..{_MAX_COUNT[table]}; found {count}"
            )
        if not 0 <= address <= 65535 or address + count > 65536:
            raise ValueError(f"address {address} + count {count} outside 0..65535")
        method = {
            RegisterTable.HOLDING: self._client.read_holding_registers,
            RegisterTable.INPUT: self._client.read_input_registers,
            RegisterTable.COIL: self._client.read_coils,
            RegisterTable.DISCRETE_INPUT: self._client.read_discrete_inputs,
        }[table]
        response = await self._call(method, address, count=count)
        if table in (RegisterTable.COIL, RegisterTable.DISCRETE_INPUT):
            bits = [bool(b) for b in response.bits[:count]]
            if len(bits) != count:
                raise ModbusError(f"asked for {count} bits, got {len(bits)}", self.where)
            return bits
        registers = [int(r) for r in response.registers]
        if len(registers) != count:
            raise ModbusError(
                f"read {table.value} {address}: asked for {count} registers, got {len(registers)}",
                self.where,
            )
        return registers

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers with function 0x10 (write multiple registers)."""
        if not 1 <= len(values) <= 123:
            raise ValueError(f"write 1..123 registers at once; found {len(values)}")
        for value in values:
            if not 0 <= int(value) <= 0xFFFF:
                raise ValueError(f"register values are 16-bit unsigned; found {value!r}")
        await self._call(self._client.write_registers, address, values=[int(v) for v in values])

    async def write_register(self, address: int, value: int) -> None:
        """Write one holding register with function 0x06 (for devices without 0x10)."""
        if not 0 <= int(value) <= 0xFFFF:
            raise ValueError(f"register values are 16-bit unsigned; found {value!r}")
        await self._call(self._client.write_register, address, value=int(value))

    async def write_coil(self, address: int, value: bool) -> None:
        """Write one coil with function 0x05."""
        await self._call(self._client.write_coil, address, value=bool(value))

    async def _call(self, method: Any, address: int, **kwargs: Any) -> Any:
        if self._bus is not None and not self.connected:
            await self.connect()  # a serial bus is opened by whichever device uses it first
        async with self._lock:
            if not self.connected and self._bus is None:
                # pymodbus would block in its own reconnect here; a poller wants to know now.
                raise ModbusConnectionError("not connected", self.where)
            try:
                response = await method(address, device_id=self.unit_id, **kwargs)
            except ConnectionException as exc:
                raise ModbusConnectionError(str(exc), self.where) from None
            except ModbusIOException as exc:
                if not self.connected and self._bus is None:
                    raise ModbusConnectionError(f"connection lost: {exc}", self.where) from None
                raise ModbusTimeout(
                    f"no response within {self.timeout_s} s ({exc})", self.where
                ) from None
            except ModbusException as exc:
                raise ModbusError(str(exc), self.where) from None
            except (TimeoutError, OSError) as exc:
                raise ModbusConnectionError(f"{type(exc).__name__}: {exc}", self.where) from None
        if response is None:
            raise ModbusTimeout("no response", self.where)
        if response.isError():
            raise ModbusExceptionResponse(
                int(getattr(response, "exception_code", 0)),
                int(response.function_code) & 0x7F,
                self.where,
            )
        return response

    def __repr__(self) -> str:
        return f"ModbusConnection({self.where})"
