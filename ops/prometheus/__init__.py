"""A real Prometheus for the local stack: build, run, query. See ``server`` for the API."""
