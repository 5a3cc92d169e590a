"""The district on the city's data hub: MQTT, NGSI-LD and open data (docs/datahub.md).

Every record that leaves the platform is built here as a `Record` and passes
`energy.datahub.privacy.publishable`, the one place where the publication rule is applied.
"""
