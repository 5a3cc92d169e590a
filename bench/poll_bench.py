"""Benchmark: one poll cycle of many simulated devices on loopback.

The devices are served by modbus-tk (an independent Modbus stack; one select() loop, one TCP port,
one unit id per device, like a gateway) in a separate process, so that client and server do not
share an event loop or a GIL. Each device has 60 registers: 40 holding registers (uint16, int16,
int32, uint32, float32 points) and 20 input registers, i.e. two read requests per device per cycle.
The client is the platform's DevicePoller: one long-lived connection per device, all devices
polled concurrently. The first cycle (connecting) is reported separately.

    .venv/bin/python bench/poll_bench.py                 # 200 devices, 20 cycles
    .venv/bin/python bench/poll_bench.py --devices 200 --cycles 50 --store sqlite
    .venv/bin/python bench/poll_bench.py --dead 20 --timeout 0.5 --cycles 8   # hung devices

Prints cycle times (median, p95, max), requests per second and, with --store, the time to write
one cycle's measurements in bulk. Never asserts anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.poller import DevicePoller, DeviceSpec, measurements_frame  # noqa: E402
from connectors.registermap import RegisterMap  # noqa: E402
from energy.config import DeviceEndpoint  # noqa: E402

HOLDING_REGISTERS = 40
INPUT_REGISTERS = 20


def bench_map() -> RegisterMap:
    """60 contiguous registers: 40 holding (12 x uint16, 4 x int16 scaled, 4 each of int32,
    uint32 and float32) and 20 input (10 x int16 scaled, 5 x int32 feeding a quantity)."""
    points: list[dict[str, Any]] = []
    address = 0
    for i in range(12):
        points.append({"name": f"h_u16_{i}", "address": address, "dtype": "uint16"})
        address += 1
    for i in range(4):
        points.append({"name": f"h_i16_{i}", "address": address, "dtype": "int16", "scale": 0.1})
        address += 1
    for kind in ("int32", "uint32", "float32"):
        for i in range(4):
            points.append({"name": f"h_{kind}_{i}", "address": address, "dtype": kind})
            address += 2
    assert address == HOLDING_REGISTERS
    address = 0
    for i in range(10):
        points.append(
            {"name": f"i_i16_{i}", "table": "input", "address": address, "dtype": "int16",
             "scale": 0.1, "unit": "degC"}
        )  # fmt: skip
        address += 1
    for i in range(5):
        points.append(
            {"name": f"i_i32_{i}", "table": "input", "address": address, "dtype": "int32",
             "unit": "W", "quantity": f"power_{i}_kw", "quantity_factor": 0.001}
        )  # fmt: skip
        address += 2
    assert address == INPUT_REGISTERS
    return RegisterMap.model_validate({"name": "bench", "points": points})


def _silent(port: int) -> None:
    """Accept connections and read requests, never answer: devices that hang."""
    import threading

    listener = socket.create_server(("127.0.0.1", port), backlog=256)

    def swallow(conn: socket.socket) -> None:
        with conn:
            while conn.recv(4096):
                pass

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=swallow, args=(conn,), daemon=True).start()


def _serve(port: int, devices: int, silent_port: int, ready: Any) -> None:
    import threading

    from modbus_tk import defines, modbus_tcp

    class Server(modbus_tcp.TcpServer):  # type: ignore[misc]
        """modbus-tk listens with a backlog of 10: 200 clients connecting at once overflow it
        and wait for a SYN retry (1 s). Real devices each have their own listener."""

        def _do_init(self) -> None:
            super()._do_init()
            self._sock.listen(512)

    threading.Thread(target=_silent, args=(silent_port,), daemon=True).start()
    logging.getLogger("modbus_tk").setLevel(logging.WARNING)
    server = Server(port=port, address="127.0.0.1")
    for unit in range(1, devices + 1):
        slave = server.add_slave(unit)
        slave.add_block("h", defines.HOLDING_REGISTERS, 0, HOLDING_REGISTERS)
        slave.add_block("i", defines.ANALOG_INPUTS, 0, INPUT_REGISTERS)
        slave.set_values("h", 0, [(unit * 7 + k) % 65536 for k in range(HOLDING_REGISTERS)])
        slave.set_values("i", 0, [(unit + k) % 1000 for k in range(INPUT_REGISTERS)])
    server.start()
    ready.set()
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"bench server did not listen on {port}")


async def _run(args: argparse.Namespace, port: int, silent_port: int) -> None:
    register_map = bench_map()
    specs = [
        DeviceSpec(
            f"bench-{unit:03d}",
            DeviceEndpoint(
                host="127.0.0.1",
                port=port,
                unit_id=unit,
                register_map="bench.yaml",
                timeout_s=args.timeout,
                retries=0,
            ),
            register_map,
        )
        for unit in range(1, args.devices + 1)
    ]
    specs += [
        DeviceSpec(
            f"dead-{unit:03d}",
            DeviceEndpoint(
                host="127.0.0.1",
                port=silent_port,
                unit_id=unit,
                register_map="bench.yaml",
                timeout_s=args.timeout,
                retries=0,
            ),
            register_map,
        )
        for unit in range(1, args.dead + 1)
    ]
    store = None
    if args.store == "sqlite":
        from energy.store import Store

        tmp = Path(tempfile.mkdtemp(prefix="kv-bench-"))
        store = Store.from_url(f"sqlite:///{tmp / 'bench.sqlite'}")
        store.upgrade()
    elif args.store:
        from energy.store import Store

        store = Store.from_url(args.store)
        store.upgrade()
    async with DevicePoller(devices=specs, site_id="bench") as poller:
        first = await poller.poll_once()
        cycles, requests, store_s = [], [], []
        for _ in range(args.cycles):
            result = await poller.poll_once()
            cycles.append(result.duration_s)
            requests.append(result.requests)
            failed = [d for d in result.failed() if not d.startswith("dead-")]
            if failed:
                print(f"  {len(failed)} devices failed, e.g. {result.devices[failed[0]].health}")
            if args.dead:
                print(f"  cycle {len(cycles)}: {result.duration_s:.3f} s, {result.requests} requests, "
                      f"{len(result.stale())} stale")  # fmt: skip
            if store is not None:
                frame = measurements_frame(result)
                t0 = time.perf_counter()
                await asyncio.to_thread(_write, store, frame)
                store_s.append(time.perf_counter() - t0)
    values = sum(len(r.values) for r in result.devices.values())
    cycles_sorted = sorted(cycles)
    p95 = cycles_sorted[max(0, round(0.95 * len(cycles)) - 1)]
    median = statistics.median(cycles)
    print(f"devices: {args.devices}, registers per device: {HOLDING_REGISTERS + INPUT_REGISTERS}, "
          f"requests per cycle: {requests[-1]}, values per cycle: {values}")  # fmt: skip
    print("server: modbus-tk TcpServer in a separate process (one port, one unit id per device)")
    if args.dead:
        print(f"plus {args.dead} dead devices (connection accepted, never an answer; timeout "
              f"{args.timeout} s, breaker opens after 3 failed requests)")  # fmt: skip
    print(f"first cycle (connect {len(specs)} clients): {first.duration_s:.3f} s")
    print(f"cycle time over {args.cycles} cycles: median {median:.3f} s, p95 {p95:.3f} s, "
          f"max {max(cycles):.3f} s, min {min(cycles):.3f} s")  # fmt: skip
    print(f"requests per second (median cycle): {requests[-1] / median:,.0f}")
    if store_s:
        print(f"store ({args.store}): {len(frame)} rows per cycle, "
              f"median {statistics.median(store_s):.3f} s per bulk write")  # fmt: skip


def _write(store: Any, frame: Any) -> None:
    from energy.store.measurements import write_measurements

    write_measurements(store, "bench", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200, help="devices (1..247)")
    parser.add_argument("--cycles", type=int, default=20, help="timed cycles after the first")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-request timeout, s")
    parser.add_argument(
        "--dead", type=int, default=0, help="add devices that never answer (0..247)"
    )
    parser.add_argument(
        "--store", default=None, help="also write each cycle: 'sqlite' (temp file) or a URL"
    )
    args = parser.parse_args()
    if not 1 <= args.devices <= 247:
        parser.error("--devices must be 1..247 (Modbus unit ids behind one port)")
    logging.basicConfig(level=logging.WARNING)
    port, silent_port = _free_port(), _free_port()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_serve, args=(port, args.devices, silent_port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("bench server did not start")
        _wait_listening(port)
        asyncio.run(_run(args, port, silent_port))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
