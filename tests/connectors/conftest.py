"""The simulated Klimaviertel for connector tests: served on free ports, accelerated time.

`simulated` (session scope) runs the default site's district in a background thread
(`DistrictThread`) at SIM_SPEED simulated seconds per wall second, from a June morning, on ports
the OS picked (so parallel runs and a running `kv simulate` never collide); `district.site` is the
site with those ports. `healthy` is the same district, with faults removed and the clock running
again after the test. Helpers live in test_simulated_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_simulated_support import Simulated, running_district

from energy.site import Site


@pytest.fixture(scope="session")
def simulated(site: Site) -> Iterator[Simulated]:
    with running_district(site) as simulated:
        yield simulated


@pytest.fixture
def healthy(simulated: Simulated) -> Iterator[Simulated]:
    """The district, with every fault removed and the clock running again afterwards."""
    yield simulated
    for asset_id in simulated.district.simulated:
        simulated.call(lambda a=asset_id: simulated.district.set_faults(a, None))
    simulated.resume()
