"""Tenants of the bus: ``cultuurbus tenant`` and ``cultuurbus access apply``."""
