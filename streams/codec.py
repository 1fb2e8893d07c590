"""The streams worker's view of the bus codec (``bus.codec``): facts in, derived records out.

Facts are decoded into the current contract with timestamps as int milliseconds (no
``datetime`` per field; resolution only when the writer schema differs from the
contract) and checked against the contract's ranges, so a fact whose times no other
role could read never reaches the state. Derived records are range-checked before they
are written: the worker never publishes a record another role cannot decode.

Every state function in ``streams`` accepts timestamps as int milliseconds.

A ticket fact is decoded once per worker when the same worker holds both ends of its
re-keying hop: the identity agent decodes it to route it and forwards its bytes; the
facts agent finds the decoded record by those bytes (``FactCodec.remember``), ~7% of the
worker's CPU per fact (one fastavro decode and range check of two). On a backlog the
identity agent runs more than ``FORWARDED_MAX`` facts ahead (its work per fact is about
half the facts agent's), and the facts agent decodes about two-thirds of 30,000 facts again.
Holding the identity agent back does not help: Faust delivers every agent's messages in
one loop, and a queue not taken from stops the others' deliveries too (session 28,
``bench/results/issue14``).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bus.codec import KIND_HEADER, ContractReader, ContractWriter, FactReader, without_logical_types
from bus.serde import Registry
from bus.topics import topic_name

__all__ = ["FORWARDED_MAX", "FactCodec", "KIND_HEADER", "shared", "without_logical_types"]

Decoder = Callable[[bytes], dict[str, Any]]

#: Most decoded facts kept for the facts agent (``FactCodec.remember``): ~2 kB each.
FORWARDED_MAX = 8192


def shared(value: Any) -> Any:
    """A decoded string as the one object every holder of the same text shares
    (``sys.intern``: freed with its last user); anything else as it is. For what the worker
    keeps in memory per performance: titles, venues, places and sources repeat across
    performances, and a performance's id is held by several domains; each decode makes a
    new object of them otherwise."""
    return sys.intern(value) if type(value) is str else value


class FactCodec:
    """Knows every fact kind; decodes into the current contract, timestamps as int ms.

    Raises (from every method): ``SerializationError`` for a record that is not what the
    contract says (dead-letter it), ``SchemaRegistryError`` when the registry cannot be
    reached (retry).
    """

    def __init__(self, registry: Registry, topic_prefix: str) -> None:
        self.registry = registry
        self.prefix = topic_prefix
        #: ``decode(raw) -> (kind, record)`` of a fact; raises SerializationError on bytes
        #: that are not one (the bus's fact reader itself: no call in between on the hot path)
        self.decode: Callable[[bytes], tuple[str, dict[str, Any]]] = FactReader(registry)
        self._encoders: dict[str, ContractWriter] = {}
        #: an OrderedDict, not a dict: a full dict's ``del d[next(iter(d))]`` walks the slots
        #: its earlier deletions left at its start (~10 us a fact, 0.9 with ``popitem``)
        self._forwarded: OrderedDict[bytes, tuple[str, dict[str, Any]]] = OrderedDict()
        self._readers: dict[str, ContractReader] = {}

    def remember(self, raw: bytes, decoded: tuple[str, dict[str, Any]]) -> None:
        """Keep a fact just decoded by an identity agent, which forwards these very bytes to
        ``participation.facts``: the facts agent of this worker takes it back with
        :meth:`decode_forwarded` instead of decoding it again. At most ``FORWARDED_MAX`` are
        kept (the oldest go first: then the facts agent decodes, as another worker does)."""
        recent = self._forwarded
        recent[raw] = decoded
        if len(recent) > FORWARDED_MAX:
            recent.popitem(last=False)

    def decode_forwarded(self, raw: bytes) -> tuple[str, dict[str, Any]]:
        """``decode(raw)``, or what an identity agent of this worker decoded from the same
        bytes (the same bytes give the same record: the schema id is in them). Records are
        never changed after decoding, by the identity agents or the domains."""
        decoded = self._forwarded.pop(raw, None)
        return self.decode(raw) if decoded is None else decoded

    def reader(self, schema_file: str) -> Decoder:
        """A decoder of any wire-format record into the ``schema_file`` contract (int-ms times)."""
        dec = self._readers.get(schema_file)
        if dec is None:
            dec = self._readers[schema_file] = ContractReader(self.registry, schema_file)
        return dec

    def encode(self, topic: str, schema_file: str, record: dict[str, Any]) -> bytes:
        """Encode a derived record for ``topic`` (unprefixed name); times as int ms."""
        enc = self._encoders.get(topic)
        if enc is None:
            enc = ContractWriter(self.registry, topic_name(topic, self.prefix), schema_file)
            self._encoders[topic] = enc
        return enc(record)
