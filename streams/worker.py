"""Running a worker: check the Faust and aiokafka internals it hooks into
(``streams.faust_hooks``), build the app (``streams.app``), load the crosswalk, then hand
over to Faust's worker (signals, graceful shutdown, table recovery).

A worker that did not stop cleanly (kill -9, a crash) may have local RocksDB state ahead
of its changelogs; Faust would keep that state and replay only part of the changelog
over it. So a worker marks its state directory while it runs (a locked ``RUNNING`` file,
removed on a clean stop), and when it finds the mark at start it discards its local
tables and recovers them from the changelogs alone (the way Kafka Streams treats a state
store after an unclean shutdown; the price is a full restore after a crash). See
``streams.store``.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from pathlib import Path
from typing import IO

import faust

from bus.errors import ConfigError, RetriableError
from bus.heap import settle
from bus.kafka import make_admin
from bus.log import get_logger
from bus.settings import Settings
from streams.app import check_copartitioning, create_app
from streams.faust_hooks import check_hooks

__all__ = ["run_worker"]

log = get_logger(__name__)
RUNNING = "RUNNING"
CLUSTER = "KAFKA_CLUSTER_ID"


class _Worker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # No terminal spinner: to spin on every log record Faust sets the root logger to
        # DEBUG, so every library builds a record for each debug line it skips (~6% of
        # the worker's CPU under load, measured with py-spy).
        self.spinner = None

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        settle(young=None)  # Faust, aiokafka, the app live as long as the worker (bus.heap)


def claim(mark: Path) -> IO[str]:
    """Hold ``mark`` (exclusively, for the life of the process) while this worker runs.

    Raises:
        ConfigError: another live worker holds it: same name and state directory.

    """
    mark.parent.mkdir(parents=True, exist_ok=True)
    handle = mark.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise ConfigError(f"a worker already runs on {mark.parent}: give this one another --name "
                          "(each worker keeps its own state)") from exc
    return handle

def discard_unclean_state(tabledir: Path, mark: Path) -> bool:
    """Remove the local tables when ``mark`` says the last run did not stop cleanly."""
    if not mark.exists():
        return False
    if tabledir.exists():
        shutil.rmtree(tabledir)
    log.warning("unclean shutdown: local tables discarded, recovering them from the changelogs",
                extra={"tabledir": str(tabledir)})
    return True

def cluster_id(settings: Settings, timeout: float = 10.0) -> str:
    """The id of the Kafka cluster the settings point at.

    Raises:
        RetriableError: Kafka did not answer.

    """
    admin = make_admin(settings.kafka)
    try:
        found = admin.list_topics(timeout=timeout).cluster_id
    except Exception as exc:
        raise RetriableError(f"cannot reach Kafka at {settings.kafka.bootstrap_servers} to start "
                             f"the worker: {exc}") from exc
    return str(found or "")


def check_state_origin(state: Path, cluster: str) -> None:
    """Refuse local tables built from another Kafka cluster (a fresh stack with an old
    state directory), which Faust would meet with a ConsistencyError deep in recovery.

    Raises:
        ConfigError: naming the directory to delete.

    """
    origin = state / CLUSTER
    if origin.exists():
        known = origin.read_text(encoding="utf-8").strip()
        if known and cluster and known != cluster:
            raise ConfigError(
                f"the worker state in {state} was built from another Kafka cluster ({known}; "
                f"now {cluster}), e.g. before the local stack was recreated: delete it "
                f"(rm -rf {state}) so the worker rebuilds its tables from this cluster's topics, "
                "or point CULTUURBUS_STREAMS__DATA_DIR at another directory")
    state.mkdir(parents=True, exist_ok=True)
    origin.write_text(cluster + "\n", encoding="utf-8")


def run_worker(settings: Settings, *, worker: str = "w1", web_port: int | None = None,
               loglevel: str = "info") -> None:
    """Block running one worker until SIGTERM/SIGINT.

    Raises:
        ConfigError: Faust or aiokafka lost an attribute the worker hooks into (an upgrade
            past the pinned versions), the topics are not co-partitioned, or the state
            belongs to another cluster or another live worker.
        RetriableError: Kafka or the identity topic could not be read.

    """
    check_hooks()
    check_copartitioning(settings)
    built = create_app(settings, worker=worker, web_port=web_port)
    mark = Path(settings.streams.data_dir) / worker / RUNNING
    check_state_origin(mark.parent, cluster_id(settings))
    unclean = mark.exists()
    held = claim(mark)
    if unclean:
        discard_unclean_state(Path(built.app.conf.tabledir), mark)
    reader = built.crosswalk_reader
    reader.start()
    built.ingest.scan()  # the tenants' ingest topics there are now: in the first subscription
    logging.getLogger("faust").setLevel(loglevel.upper())
    clean = False
    try:
        _Worker(built.app, loglevel=loglevel, quiet=True).execute_from_commandline()
        clean = True
    except SystemExit as exc:
        clean = exc.code in (0, None)
        raise
    finally:
        reader.stop()
        if clean:
            mark.unlink(missing_ok=True)
        held.close()
