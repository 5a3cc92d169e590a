"""The simulated Klimaviertel for connector tests: served on free ports, accelerated time.

`simulated` (session scope) runs the default site's district in a background thread
(`DistrictThread`) at SIM_SPEED simulated seconds per wall second, from a June morning, on ports
the OS picked (so parallel runs and a running `kv simulate` never collide); `district.site` is the
site with those ports. `healthy` is the same district, with faults removed and the clock running
again after the test. Helpers live in test_simulated_support.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from test_simulated_support import SIM_SPEED, SIM_START, Simulated

from connectors.simulated import DistrictThread
from energy.site import Site


@pytest.fixture(scope="session")
def simulated(site: Site) -> Iterator[Simulated]:
    runner = DistrictThread(site, speed=SIM_SPEED, start=SIM_START, free_ports=True, refresh_s=0.05)
    district = runner.start(timeout_s=60)
    simulated = Simulated(runner, district)
    # the first physics step computes the PV and meter readings: a test that pauses the district
    # at once (mbpoll tests skipped before it, say) must not read the all-zero state before it
    deadline = time.monotonic() + 30
    while simulated.snapshot().time <= SIM_START and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield simulated
    finally:
        runner.stop()


@pytest.fixture
def healthy(simulated: Simulated) -> Iterator[Simulated]:
    """The district, with every fault removed and the clock running again afterwards."""
    yield simulated
    for asset_id in simulated.district.simulated:
        simulated.call(lambda a=asset_id: simulated.district.set_faults(a, None))
    simulated.resume()
