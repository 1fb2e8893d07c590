"""Fakes of the vendor APIs and calendar sites the connectors read: loopback HTTP
servers and builders of vendor-shaped payloads. The season simulator, the demo, the
benchmarks and the tests play the vendors with them; none of it runs in production.
"""
