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
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ProductionIndex"]


def _bare(key: str) -> str:
    return key.split("|", 1)[-1].casefold()


class ProductionIndex:
    """Production keys <-> performance ids."""

    def __init__(self) -> None:
        self._pids: dict[str, set[str]] = {}  # key -> performances naming it
        self._keys: dict[str, tuple[str, ...]] = {}  # performance -> its keys
        self._by_value: dict[str, set[str]] = {}  # id without namespace, casefolded -> keys

    def put(self, pid: str, keys: Iterable[str]) -> None:
        """The performance now names ``keys`` (replacing what it named before)."""
        new = tuple(sorted({k for k in keys if isinstance(k, str) and "|" in k}))
        if self._keys.get(pid, ()) == new:
            return
        self.remove(pid)
        if not new:
            return
        self._keys[pid] = new
        for key in new:
            self._pids.setdefault(key, set()).add(pid)
            self._by_value.setdefault(_bare(key), set()).add(key)

    def remove(self, pid: str) -> None:
        """The performance is withdrawn."""
        for key in self._keys.pop(pid, ()):
            pids = self._pids.get(key)
            if pids is None:
                continue
            pids.discard(pid)
            if not pids:
                del self._pids[key]
                values = self._by_value.get(_bare(key))
                if values is not None:
                    values.discard(key)
                    if not values:
                        del self._by_value[_bare(key)]

    def keys_of(self, ident: str) -> set[str]:
        """The keys an id asked for names: a key itself (``dip-production|NL-23-1234-5``)
        or an id without namespace (``NL-23-1234-5``, a UiT production or event uuid),
        compared case-insensitively."""
        text = ident.strip()
        if text in self._pids:
            return {text}
        folded = text.casefold()
        exact = {k for k in self._by_value.get(_bare(folded), ()) if k.casefold() == folded}
        return exact or set(self._by_value.get(folded, ()))

    def related(self, ident: str) -> tuple[list[str], set[str]]:
        """Every key and performance related to ``ident`` through shared keys (empty when
        no performance names it)."""
        todo = list(self.keys_of(ident))
        keys: set[str] = set(todo)
        pids: set[str] = set()
        while todo:
            for pid in self._pids.get(todo.pop(), ()):
                if pid in pids:
                    continue
                pids.add(pid)
                for key in self._keys.get(pid, ()):
                    if key not in keys:
                        keys.add(key)
                        todo.append(key)
        return sorted(keys), pids
