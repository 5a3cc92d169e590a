"""Loopback TCP ports for test servers whose port is chosen before they bind."""

from __future__ import annotations

import random
import socket

#: Below Linux's ephemeral range (32768-60999 by default): the OS hands ephemeral ports to every
#: bind(("127.0.0.1", 0)), such as the simulated district's devices started in the same test, so
#: a port taken from that range and released could be handed out again before our server binds.
FIRST_PORT, LAST_PORT = 20000, 32767

#: Ports handed out in this process: a port probed free and closed stays free until its server
#: binds, so two draws for one configuration (29 devices on the default site) must never repeat.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 that is free now, outside the ephemeral range, and not handed out
    before in this process."""
    for _ in range(500):
        port = random.randint(FIRST_PORT, LAST_PORT)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {FIRST_PORT}-{LAST_PORT} after 500 tries")
