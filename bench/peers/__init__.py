"""Peers doing the same availability job as our streams worker: Quix Streams, and a plain
confluent-kafka loop. Each runs as its own process; ``bench.peers.runner`` feeds and
times them exactly like our worker."""
