"""Performances of one production: an index from production keys to performances.

Each availability record lists the production keys its performance's descriptions name
(``production_keys``: ``dip-production|NL-23-1234-5``, ``uit-production|<uuid>``,
``uit-event|<uuid>``). Two performances that share a key are of one production, and so
are performances linked through a chain of shared keys: A names {uit X, dip Y}, B names
{dip Y}, C names {uit X}: asking by X or Y gives A, B and C. They are related, never
merged: each keeps its own availability.

The index is kept as records are applied and withdrawn; a question walks only the
production it asks about. Not thread-safe by itself: ``sinks.gateway.view.View`` calls it
under its lock.

Perf notes: a key named by one performance (nearly all) maps to that id, not to a set of
one, and a performance naming one key (nearly all) to that key, not to a tuple of one; at
100,000 performances the index went from ~57 MB to ~19 MB (tracemalloc).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["ProductionIndex"]

#: One member, or several. Nearly every key names one performance and every bare id one
#: key: a plain string then, not a set of one (216 bytes; ~40 MB at 100,000 performances).
Members = str | set[str]


def _bare(key: str) -> str:
    return key.split("|", 1)[-1].casefold()


def _add(index: dict[str, Members], key: str, member: str) -> None:
    have = index.get(key)
    if have is None:
        index[key] = member
    elif isinstance(have, str):
        if have != member:
            index[key] = {have, member}
    else:
        have.add(member)


def _discard(index: dict[str, Members], key: str, member: str) -> None:
    have = index.get(key)
    if have is None:
        return
    if isinstance(have, str):
        if have == member:
            del index[key]
        return
    have.discard(member)
    if len(have) == 1:
        index[key] = next(iter(have))
    elif not have:
        del index[key]


def _members(index: dict[str, Members], key: str) -> Collection[str]:
    have = index.get(key)
    if have is None:
        return ()
    return (have,) if isinstance(have, str) else have


class ProductionIndex:
    """Production keys <-> performance ids."""

    def __init__(self) -> None:
        self._pids: dict[str, Members] = {}  # key -> performances naming it
        self._keys: dict[str, str | tuple[str, ...]] = {}  # performance -> its keys (or key)
        self._by_value: dict[str, Members] = {}  # id without namespace, casefolded -> keys

    def _named(self, pid: str) -> tuple[str, ...]:
        held = self._keys.get(pid, ())
        return (held,) if isinstance(held, str) else held

    def put(self, pid: str, keys: Iterable[str]) -> None:
        """The performance now names ``keys`` (replacing what it named before)."""
        new = tuple(sorted({k for k in keys if isinstance(k, str) and "|" in k}))
        if self._named(pid) == new:
            return
        self.remove(pid)
        if not new:
            return
        self._keys[pid] = new[0] if len(new) == 1 else new
        for key in new:
            _add(self._pids, key, pid)
            _add(self._by_value, _bare(key), key)

    def remove(self, pid: str) -> None:
        """The performance is withdrawn."""
        keys = self._named(pid)
        self._keys.pop(pid, None)
        for key in keys:
            if key not in self._pids:
                continue
            _discard(self._pids, key, pid)
            if key not in self._pids:
                _discard(self._by_value, _bare(key), key)

    def keys_of(self, ident: str) -> set[str]:
        """The keys an id asked for names: a key itself (``dip-production|NL-23-1234-5``)
        or an id without namespace (``NL-23-1234-5``, a UiT production or event uuid),
        compared case-insensitively."""
        text = ident.strip()
        if text in self._pids:
            return {text}
        folded = text.casefold()
        exact = {k for k in _members(self._by_value, _bare(folded)) if k.casefold() == folded}
        return exact or set(_members(self._by_value, folded))

    def related(self, ident: str) -> tuple[list[str], set[str]]:
        """Every key and performance related to ``ident`` through shared keys (empty when
        no performance names it)."""
        todo = list(self.keys_of(ident))
        keys: set[str] = set(todo)
        pids: set[str] = set()
        while todo:
            for pid in _members(self._pids, todo.pop()):
                if pid in pids:
                    continue
                pids.add(pid)
                for key in self._named(pid):
                    if key not in keys:
                        keys.add(key)
                        todo.append(key)
        return sorted(keys), pids
