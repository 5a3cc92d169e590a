"""Modbus/TCP Security: a device with tls: true is polled over TLS with a caller-supplied context
that verifies the server; a wrong CA fails the connection (no fallback to plain TCP), and a context
with verification switched off is refused before anything is sent."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_peer_server_support import ScriptedServer, endpoint, register_map

from connectors.poller import DevicePoller, DeviceSpec

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

MAP = register_map([{"name": "v", "address": 0}, {"name": "w", "address": 1}])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN={name}", cwd=directory)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "device.key", "-out", "device.csr", "-subj", "/CN=device", cwd=directory)  # fmt: skip
    _openssl("x509", "-req", "-in", "device.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "device.pem", "-days", "2", "-extfile", "san.ext",
             cwd=directory)  # fmt: skip
    return directory


def _server_context(pki: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "device.pem", pki / "device.key")
    return context


def _poll(pki: Path, client_context: ssl.SSLContext) -> tuple[Any, ScriptedServer]:
    async def scenario() -> tuple[Any, ScriptedServer]:
        server = await ScriptedServer(holding={0: 7, 1: 8}).start(_server_context(pki))
        spec = DeviceSpec("dev", endpoint(server.port, tls=True), MAP)
        try:
            async with DevicePoller(
                devices=[spec], site_id="s", ssl_contexts={"dev": client_context}
            ) as poller:
                return await poller.poll_once(), server
        finally:
            await server.stop()

    return asyncio.run(scenario())


def test_verified_tls_connection_reads_values(pki: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    result, server = _poll(pki, context)
    reading = result.devices["dev"]
    assert reading.ok, reading.health.last_error
    assert reading.values["w"].value == 8
    assert len(server.requests) == 1


def test_wrong_ca_fails_without_falling_back(pki: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki / "other-ca.pem"))
    result, server = _poll(pki, context)
    reading = result.devices["dev"]
    assert not reading.ok
    assert "cannot connect" in (reading.health.last_error or "")
    assert server.requests == [], "no Modbus request over an unverified channel"


def test_unverifying_context_and_missing_context_are_refused_up_front() -> None:
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    spec = DeviceSpec("dev", endpoint(1502, tls=True), MAP)
    with pytest.raises(ValueError, match="verification switched off"):
        DevicePoller(devices=[spec], site_id="s", ssl_contexts={"dev": lax})
    with pytest.raises(ValueError, match="tls: true"):
        DevicePoller(devices=[spec], site_id="s")
