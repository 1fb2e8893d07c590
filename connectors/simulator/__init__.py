"""The season simulator: a seeded, realistic season played through the real connector
paths, and the ground truth the streams, sinks and benchmarks compare against.

- ``build_season(seed, venues=, productions=, performances=, now=)``: the pure model.
- ``compute_truth(season)`` / ``write_truth(season, path)``: what the bus must say.
- ``simulate(settings, season, ...)``: deliver it through the connectors into Kafka.
- ``observe`` / ``compare`` / ``privacy_leaks``: read it back and check it.
- ``cultuurbus simulate`` (``connectors.simulator.cli:simulate``): all of the above.
"""

from connectors.simulator.readback import compare, observe, privacy_leaks, recompute
from connectors.simulator.run import SimulationReport, simulate
from connectors.simulator.season import build_season
from connectors.simulator.truth import compute_truth, write_truth

__all__ = ["SimulationReport", "build_season", "compare", "compute_truth", "observe",
           "privacy_leaks", "recompute", "simulate", "write_truth"]
