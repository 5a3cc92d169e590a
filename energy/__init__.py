"""The Klimaviertel platform's domain: site, assets, time and units, store, physics, control loop,
web interface and command line."""
