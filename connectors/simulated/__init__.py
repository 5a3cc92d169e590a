"""The simulated Klimaviertel: every device of a site served over Modbus TCP, backed by physics.

- `connectors.simulated.district`: `SimulatedDistrict` (async) and `DistrictThread` (sync);
- `connectors.simulated.device`: one device's register image, reads and validated writes;
- `connectors.simulated.bridge`: physics readings to register values, writes to commands;
- `connectors.simulated.faults`: per-device fault injection (delays, exceptions, drops, frozen
  or implausible values).
"""

from connectors.simulated.district import DistrictThread, ServedDevice, SimulatedDistrict
from connectors.simulated.faults import DeviceFaults, FaultPlan, load_fault_plan

__all__ = [
    "DeviceFaults",
    "DistrictThread",
    "FaultPlan",
    "ServedDevice",
    "SimulatedDistrict",
    "load_fault_plan",
]
