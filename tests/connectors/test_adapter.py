"""The pymodbus adapter: reads and writes, our own error types, TLS refusal, shared RTU bus lock.

Servers: pyModbusTCP's server (an independent Modbus stack) for plain traffic, and our
ModbusTcpServer with a request hook for slow, silent, failing and dropping devices.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Sequence

import pytest
from pyModbusTCP.server import ModbusServer

from connectors.modbus_adapter import (
    ModbusConnection,
    ModbusConnectionError,
    ModbusExceptionResponse,
    ModbusTimeout,
    ModbusTlsConfigError,
)
from connectors.modbus_server import (
    Action,
    Decision,
    ModbusServerError,
    ModbusTcpServer,
    Request,
    crc16,
)
from connectors.registermap import RegisterTable
from tests.ports import free_port


@pytest.fixture(scope="module")
def peer() -> Iterator[ModbusServer]:
    server = ModbusServer(host="127.0.0.1", port=free_port(), no_block=True)
    server.start()
    server.data_bank.set_holding_registers(0, [1, 2, 3, 0xFFFF])
    server.data_bank.set_input_registers(10, [42, 43])
    server.data_bank.set_coils(5, [True, False, True])
    server.data_bank.set_discrete_inputs(0, [False, True])
    yield server
    server.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_reads_every_table_from_an_independent_server(peer):
    async def scenario():
        async with ModbusConnection("127.0.0.1", peer.port, 1, timeout_s=1.0) as conn:
            assert conn.connected
            return (
                await conn.read(RegisterTable.HOLDING, 0, 4),
                await conn.read("input", 10, 2),
                await conn.read("coil", 5, 3),
                await conn.read("discrete_input", 0, 2),
            )

    holding, inputs, coils, discrete = run(scenario())
    assert holding == [1, 2, 3, 0xFFFF]
    assert inputs == [42, 43]
    assert coils == [True, False, True]
    assert discrete == [False, True]


def test_writes_land_on_an_independent_server(peer):
    async def scenario():
        async with ModbusConnection("127.0.0.1", peer.port, 1, timeout_s=1.0) as conn:
            await conn.write_registers(100, [7, 65535])
            await conn.write_register(102, 9)
            await conn.write_coil(20, True)

    run(scenario())
    assert peer.data_bank.get_holding_registers(100, 3) == [7, 65535, 9]
    assert peer.data_bank.get_coils(20, 1) == [True]


def test_arguments_are_checked_before_sending(peer):
    async def scenario():
        async with ModbusConnection("127.0.0.1", peer.port, 1) as conn:
            with pytest.raises(ValueError, match="count"):
                await conn.read("holding", 0, 126)
            with pytest.raises(ValueError, match="16-bit"):
                await conn.write_registers(0, [70000])

    run(scenario())


class Scripted:
    """A unit with ten holding registers behind our server; the hook plays the faults."""

    def __init__(self) -> None:
        self.registers = list(range(10))
        self.decision = Decision()

    def read(self, table: RegisterTable, address: int, count: int) -> list[int]:
        if address + count > len(self.registers):
            raise ModbusServerError(2, "beyond the map")
        return self.registers[address : address + count]

    def write(self, table: RegisterTable, address: int, values: Sequence[int]) -> None:
        raise ModbusServerError(3, "read-only device")

    async def hook(self, request: Request) -> Decision:
        return self.decision


def with_server(unit: Scripted, scenario, **conn_kwargs):
    async def main():
        server = ModbusTcpServer("127.0.0.1", 0, {1: unit}, hook=unit.hook)
        await server.start()
        try:
            conn = ModbusConnection("127.0.0.1", server.port, **conn_kwargs)
            await conn.connect()
            try:
                return await scenario(conn, server)
            finally:
                await conn.close()
        finally:
            await server.stop()

    return run(main())


def test_exception_responses_become_our_exception_type():
    unit = Scripted()

    async def scenario(conn, _):
        with pytest.raises(ModbusExceptionResponse) as read_error:
            await conn.read("holding", 8, 5)
        with pytest.raises(ModbusExceptionResponse) as write_error:
            await conn.write_registers(0, [1])
        return read_error.value, write_error.value

    read_error, write_error = with_server(unit, scenario, unit_id=1, timeout_s=1.0)
    assert (read_error.code, read_error.function_code) == (2, 3)
    assert (write_error.code, write_error.function_code) == (3, 16)
    assert "illegal data address" in str(read_error)
    assert "127.0.0.1" in str(read_error)


def test_unknown_unit_answers_exception_4():
    async def scenario(conn, _):
        with pytest.raises(ModbusExceptionResponse) as info:
            await conn.read("holding", 0, 1)
        return info.value.code

    assert with_server(Scripted(), scenario, unit_id=9, timeout_s=1.0) == 4


def test_a_slow_device_is_a_timeout_and_the_connection_recovers():
    unit = Scripted()

    async def scenario(conn, _):
        unit.decision = Decision(Action.PROCEED, delay_s=0.6)
        with pytest.raises(ModbusTimeout):
            await conn.read("holding", 0, 2)
        unit.decision = Decision()
        await asyncio.sleep(0.7)  # the late answer arrives and is discarded
        return await conn.read("holding", 0, 2)

    assert with_server(unit, scenario, unit_id=1, timeout_s=0.3) == [0, 1]


def test_a_silent_device_is_a_timeout():
    unit = Scripted()
    unit.decision = Decision(Action.SILENT)

    async def scenario(conn, _):
        with pytest.raises(ModbusTimeout):
            await conn.read("holding", 0, 1)

    with_server(unit, scenario, unit_id=1, timeout_s=0.2)


def test_a_dropped_connection_is_a_connection_error_then_reconnects():
    unit = Scripted()

    async def scenario(conn, _):
        unit.decision = Decision(Action.DROP)
        with pytest.raises((ModbusConnectionError, ModbusTimeout)):
            await conn.read("holding", 0, 1)
        unit.decision = Decision()
        for _ in range(50):  # pymodbus reconnects in the background (reconnect_delay_s)
            if conn.connected:
                break
            await asyncio.sleep(0.05)
        else:
            await conn.connect()
        return await conn.read("holding", 3, 1)

    assert with_server(unit, scenario, unit_id=1, timeout_s=0.5, reconnect_delay_s=0.05) == [3]


def test_nobody_listening_is_a_connection_error():
    conn = ModbusConnection("127.0.0.1", free_port(), 1, timeout_s=0.5)

    async def scenario():
        with pytest.raises(ModbusConnectionError, match="cannot connect"):
            await conn.connect()
        with pytest.raises(ModbusConnectionError, match="not connected"):
            await conn.read("holding", 0, 1)

    run(scenario())


def test_tls_refuses_contexts_that_do_not_verify():
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ModbusTlsConfigError, match="CERT_NONE"):
        ModbusConnection("127.0.0.1", 802, 1, ssl_context=unverified)
    no_hostname = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    no_hostname.check_hostname = False
    with pytest.raises(ModbusTlsConfigError, match="check_hostname"):
        ModbusConnection("127.0.0.1", 802, 1, ssl_context=no_hostname)
    verified = ssl.create_default_context()
    assert "TLS" in repr(ModbusConnection("127.0.0.1", 802, 1, ssl_context=verified))


def test_reconnect_delay_zero_is_refused():
    with pytest.raises(ValueError, match="reconnect_delay_s"):
        ModbusConnection("127.0.0.1", 502, 1, reconnect_delay_s=0)


def test_devices_on_one_serial_bus_share_client_and_lock():
    async def scenario():
        a = ModbusConnection.rtu("socket://127.0.0.1:1", 9600, unit_id=1)
        b = ModbusConnection.rtu("socket://127.0.0.1:1", 9600, unit_id=2)
        c = ModbusConnection.rtu("socket://127.0.0.1:2", 9600, unit_id=1)
        try:
            assert a.bus_lock is b.bus_lock
            assert a.bus_lock is not c.bus_lock
            assert a._client is b._client
        finally:
            for conn in (a, b, c):
                await conn.close()
        d = ModbusConnection.rtu("socket://127.0.0.1:1", 9600, unit_id=1)
        try:
            assert d.bus_lock is not a.bus_lock  # the bus closed with its last device
        finally:
            await d.close()

    run(scenario())


def test_rtu_unit_ids_are_checked():
    with pytest.raises(ValueError, match=r"1\.\.247"):
        ModbusConnection.rtu("/dev/ttyUSB0", 9600, unit_id=0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed; cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = str(folder / "key.pem"), str(folder / "cert.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            key,
            "-out",
            cert,
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


def test_tls_reads_from_a_verified_server(certificate):
    key, cert = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=cert)
    other_ca = ssl.create_default_context()  # system CAs: must not trust our self-signed cert
    unit = Scripted()

    async def scenario():
        server = ModbusTcpServer("127.0.0.1", 0, {1: unit}, ssl_context=server_context)
        await server.start()
        try:
            async with ModbusConnection(
                "localhost", server.port, 1, timeout_s=2.0, ssl_context=client_context
            ) as conn:
                values = await conn.read("holding", 2, 3)
            untrusted = ModbusConnection("localhost", server.port, 1, 1.0, ssl_context=other_ca)
            with pytest.raises(ModbusConnectionError):
                await untrusted.connect()
            await untrusted.close()
            return values
        finally:
            await server.stop()

    assert run(scenario()) == [2, 3, 4]


def test_a_silent_gateway_ignores_unknown_units():
    async def scenario():
        server = ModbusTcpServer("127.0.0.1", 0, {1: Scripted()}, unknown_unit="silent")
        await server.start()
        try:
            async with ModbusConnection("127.0.0.1", server.port, 2, timeout_s=0.2) as conn:
                with pytest.raises(ModbusTimeout):
                    await conn.read("holding", 0, 1)
        finally:
            await server.stop()

    run(scenario())


def test_rtu_crc_matches_the_specification_example():
    # Modbus over serial line V1.02, read holding registers 0..9 of unit 1: 01 03 00 00 00 0A C5 CD
    assert crc16(bytes.fromhex("01030000000A")) == bytes.fromhex("C5CD")


def test_two_rtu_devices_on_one_bus_answer_concurrent_requests():
    first, second = Scripted(), Scripted()
    second.registers = [100 + r for r in second.registers]

    async def scenario():
        server = ModbusTcpServer("127.0.0.1", 0, {1: first, 2: second}, framing="rtu")
        await server.start()
        url = f"socket://127.0.0.1:{server.port}"
        a = ModbusConnection.rtu(url, 19200, unit_id=1, timeout_s=1.0)
        b = ModbusConnection.rtu(url, 19200, unit_id=2, timeout_s=1.0)
        stranger = ModbusConnection.rtu(url, 19200, unit_id=3, timeout_s=0.3)
        try:
            await a.connect()
            results = await asyncio.gather(
                *(conn.read("holding", i, 2) for i in range(4) for conn in (a, b))
            )
            with pytest.raises(ModbusTimeout):  # nobody on the bus answers unit 3
                await stranger.read("holding", 0, 1)
            with pytest.raises(ModbusExceptionResponse) as refused:
                await b.write_registers(0, [1])
            return results, refused.value.code
        finally:
            for conn in (a, b, stranger):
                await conn.close()
            await server.stop()

    results, code = run(scenario())
    assert results == [r for i in range(4) for r in ([i, i + 1], [100 + i, 101 + i])]
    assert code == 3
