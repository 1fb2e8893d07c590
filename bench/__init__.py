"""Benchmarks of the bus against the machine's limits and a peer: ``python -m bench``
(``make bench``); results in ``bench/results/latest.json`` and ``latest.md``."""
