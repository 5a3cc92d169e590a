"""Physics of the simulated district: weather, exogenous profiles and the device simulator.

- `energy.physics.weather`: the DWD test reference year mapped onto a calendar year;
- `energy.physics.profiles`: slot-average household load, heat demand and PV of every house;
- `energy.physics.district`: `DistrictSimulator`, the stepped plant (batteries, heat pumps, tanks,
  meters) with local controllers, watchdogs and external commands, built from the vectorised banks
  in `battery`, `heatpump`, `tank` and `watchdog`; read-outs in `readings`;
- `energy.physics.clock`: `SimulationClock`, wall-clock driven (real-time or faster) advancing.
"""
