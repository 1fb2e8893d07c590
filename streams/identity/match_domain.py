"""The match desk: decides, one local day at a time, what a calendar description that no
known identifier links is: one more description of a known performance (link), a
question for a person (review), or a new performance (founded). Plain logic without
Faust; ``streams.identity.match_agents`` feeds it ``streams.match`` in order.

Every description of one day reaches the same agent instance (``streams.match`` is keyed
by the day), so decisions never race between workers. The day's descriptions live in a
table, one entry per description (``d|<day>|<performance key>``) and one per candidate
(``c|<day>|<candidate id>``), so no table value grows with the size of a day; an index in
memory (rebuilt from the table after a rebalance) finds a day's entries and keys.

A performance that a description without a sector id founded (a vendor's own event, a
venue page) is renamed when a description with a DIP or UiT id is matched to it: the
performance is then named by that id, as if that description had come first (its
descriptions linked to it as matches, their calendar facts moved, and a re-route asked
for each of their keys, so what was counted under the old name moves too).

Every link says why it was made (``reason``: identifier, founded, match, person). A
candidate sent to review holds its calendar fact; its ticket facts stay parked by
identity-route (their keys stay unknown) until a person accepts (linked to the match)
or rejects (its own performance). Automatic links are recorded as ACCEPTED candidates,
so a person can undo them like their own: the description gets its own performance
again, its calendar fact is forwarded there, and a re-route request (kind ``reroute`` on
``streams.release``, keyed by its source key) asks identity-route to move what was
counted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from bus.log import get_logger
from bus.topics import FACTS, RELEASE, REVIEW
from streams.codec import shared
from streams.identity.crosswalk import best_key, is_sector
from streams.identity.domain import Identity
from streams.identity.match_index import Day, Indexed, candidate_description
from streams.identity.matching import Description, Matcher, description_of
from streams.identity.reroute import REROUTE_KIND
from streams.tenancy import fact_out

if TYPE_CHECKING:
    from streams.context import Out

__all__ = ["DECISION_KIND", "REROUTE_KIND", "MatchDesk", "candidate_id_of"]

log = get_logger("streams")

#: Kind header of a person's decision on ``streams.match`` (JSON: action, candidate, by).
DECISION_KIND = "decision"
_ACTIONS = ("accept", "reject", "undo")


def candidate_id_of(performance_key: str, target: str) -> str:
    """Stable id of the candidate "``performance_key`` is ``target``"."""
    return "cand-" + hashlib.sha256(f"{performance_key}>{target}".encode()).hexdigest()[:16]


class MatchDesk:
    """Decides calendar descriptions no identifier links, and applies a person's decisions.

    Every method adds what to publish to ``out`` and returns the error that makes its
    input unusable (dead-letter it), else None.

    Args:
        identity: routing's identity (its crosswalk, and how links are published).
        table: the match table (see the module docstring).
        decode: fact bytes -> (kind, record) (the worker's fact codec).
        encode_candidate: an IdentityCandidate record -> its bytes for the review topic.
        make_matcher: a fresh, empty :class:`Matcher` with the configured thresholds.
        now_ms: the time of a decision (UTC ms).
        in_partition_of: called with the event before the table is read or written.

    """

    def __init__(self, identity: Identity, table: MutableMapping[str, Any],
                 decode: Callable[[bytes], tuple[str, dict[str, Any]]],
                 encode_candidate: Callable[[dict[str, Any]], bytes], make_matcher: Callable[[], Matcher],
                 now_ms: Callable[[], int], in_partition_of: Callable[[Any], None] = lambda _e: None) -> None:
        self.identity = identity
        self.table = table
        self.decode = decode
        self.encode_candidate = encode_candidate
        self.make_matcher = make_matcher
        self.now_ms = now_ms
        self.in_partition_of = in_partition_of
        self.days: dict[str, Day] = {}

    async def recovered(self) -> None:
        """Rebuild the index from the table (after a rebalance)."""
        self.days.clear()
        for key, value in list(self.table.items()):
            if value is None:
                continue
            kind, day, _rest = key.split("|", 2)
            if kind == "d":
                self._index(day, Indexed.of(value))
            elif kind == "c" and value["state"] == "PENDING":
                for k in value["description"]["keys"]:
                    self._day(day).pending[k] = value["candidate_id"]

    # -- input ---------------------------------------------------------------------------
    def fact(self, event: Any, day: str, kind: str, rec: dict[str, Any], raw: bytes,
             out: list[Out], tenant: str | None = None) -> Exception | None:
        """A calendar fact whose identifiers were all unknown to identity-learn; ``tenant``:
        the tenant whose ingest topic it came from, carried with it wherever it is forwarded
        (kept as ``t`` in its description entry, as ``t|<day>|<candidate>`` while it waits)."""
        try:
            d = description_of(rec)
        except Exception as exc:  # noqa: BLE001 - unusable description
            return exc
        self.in_partition_of(event)
        known = self.identity.crosswalk.resolve(d.keys)
        if known is not None:
            self._known(day, d, known, kind, raw, rec, out, tenant)
            return None
        today = self._day(day)
        linked = next((today.keys[k] for k in d.keys if k in today.keys), None)
        if linked is not None:
            self._known(day, d, today.entries[linked].c, kind, raw, rec, out, tenant)
            return None
        held = next((today.pending[k] for k in d.keys if k in today.pending), None)
        if held is not None:
            self._hold_again(day, held, d, kind, raw, out, tenant)
            return None
        decision = self._matcher(day).decide(d)
        if decision.outcome == "link" and decision.target is not None and not is_sector(decision.target) \
                and is_sector(best_key(d.keys)):
            self._rename(day, d, decision.target, decision.score, decision.reason, kind, raw, rec, out,
                         tenant)
            return None
        if decision.outcome == "new":
            own = best_key(d.keys)
            self._link(d, own, rec, out, "founded")
            self._put(day, d, own, "founded", kind, raw, tenant)
            out.append(fact_out(FACTS, own, raw, kind, tenant))
            log.info("performance founded", extra={"performance_id": own, "day": day, "why": decision.reason})
            return None
        assert decision.target is not None  # noqa: S101 - link and review always name one
        cand = self._candidate(day, d, decision.target, decision.score, decision.reason, kind, raw)
        if decision.outcome == "link":
            cand.update(state="ACCEPTED", decided_by="matcher", decided_at=cand["created_at"])
            self._link(d, decision.target, rec, out, "match", decision.score, "matcher")
            self._put(day, d, decision.target, "match", kind, raw, tenant)
            out.append(fact_out(FACTS, decision.target, raw, kind, tenant))
        else:
            for k in d.keys:
                today.pending[k] = cand["candidate_id"]
            self._hold_tenant(day, cand["candidate_id"], tenant)
        self._save(day, cand, out)
        log.info("description matched", extra={
            "performance_key": d.keys[0], "performance_id": decision.target, "outcome": decision.outcome,
            "score": decision.score, "why": decision.reason, "candidate": cand["candidate_id"]})
        return None

    def known(self, event: Any, day: str, body: bytes, out: list[Out]) -> Exception | None:
        """identity-learn linked a calendar fact by identifier: remember its description."""
        try:
            notice = json.loads(body)
            raw = base64.b64decode(notice["fact"])
            kind, rec = self.decode(raw)
            d = description_of(rec)
            canonical = str(notice["canonical"])
            tenant = notice.get("tenant")
        except Exception as exc:  # noqa: BLE001 - an unusable notice
            return exc
        self.in_partition_of(event)
        self._settled(day, d, canonical, out)
        self._known(day, d, canonical, kind, raw, rec, None, tenant)
        return None

    def decision(self, event: Any, day: str, body: bytes, out: list[Out]) -> Exception | None:
        """A person's decision (``cultuurbus identity accept|reject|undo``)."""
        try:
            asked = json.loads(body)
            action, cid, by = asked["action"], str(asked["candidate"]), str(asked.get("by") or "someone")
            if action not in _ACTIONS:
                raise ValueError(f"decision action {action!r} is not one of {', '.join(_ACTIONS)}")
        except Exception as exc:  # noqa: BLE001 - an unusable decision
            return exc
        self.in_partition_of(event)
        cand = self.table.get(f"c|{day}|{cid}")
        if cand is None:
            return LookupError(f"candidate {cid} is not known on day {day}; list them with "
                               "`cultuurbus identity candidates`")
        done = {"accept": "ACCEPTED", "reject": "REJECTED", "undo": "UNDONE"}[action]
        if cand["state"] == done:
            return None  # delivered again, or decided twice: already so
        needs = "ACCEPTED" if action == "undo" else "PENDING"
        if cand["state"] != needs:
            return ValueError(f"cannot {action} candidate {cid}: it is {cand['state']}, not {needs}")
        raw = base64.b64decode(cand["fact"])
        tenant = self.table.get(f"t|{day}|{cid}")
        kind, rec = self.decode(raw)
        d = description_of(rec)
        today = self._day(day)
        if action == "accept":
            canonical = cand["target_id"]
        else:
            canonical = best_key(d.keys)
            if action == "undo":
                entry = today.entries.get(d.keys[0])
                if entry is not None:  # the newest description of it, not the one first held
                    raw, kind, tenant = self._raw(day, entry), entry.k, entry.t
                    kind, rec = self.decode(raw)
                    d = description_of(rec)
                    canonical = best_key(d.keys)
                reroute = {"to": canonical, "keys": list(d.keys)}
                out.append((RELEASE, d.keys[0], json.dumps(reroute).encode(), REROUTE_KIND))
        for k in d.keys:
            today.pending.pop(k, None)
        at = self.now_ms()
        self._link(d, canonical, rec, out, "person", cand["score"], by)
        self._put(day, d, canonical, "person", kind, raw, tenant)
        if action == "undo":
            # The calendar fact was counted under the target: take it back there and count it
            # under its own performance, each as a move of its own (streams.context.MOVE_HEADER),
            # so neither is taken for a redelivery of its first forwarding.
            move = f"undo-{cid}-{at}"
            out.append(fact_out(FACTS, cand["target_id"], raw, kind, tenant, f"retract/{move}"))
            out.append(fact_out(FACTS, canonical, raw, kind, tenant, move))
        else:
            out.append(fact_out(FACTS, canonical, raw, kind, tenant))
        cand.update(state=done, decided_by=by, decided_at=at)
        self._save(day, cand, out)
        log.info("identity decision applied", extra={
            "candidate": cid, "action": action, "by": by, "performance_key": d.keys[0],
            "performance_id": canonical})
        return None

    def _rename(self, day: str, d: Description, old: str, score: float, why: str, kind: str, raw: bytes,
                rec: dict[str, Any], out: list[Out], tenant: str | None = None) -> None:
        """``d``, with a sector id, matches performance ``old`` that a description without one
        founded (a vendor's event, a venue page): the performance is named by ``d``'s sector id
        from now on. Every description of ``old`` is linked to it as a match (a person may undo
        it), its calendar fact moved, and a re-route asked for each of its keys, so what
        identity-route counted under ``old`` moves too (``streams.identity.reroute``)."""
        new = best_key(d.keys)
        self._link(d, new, rec, out, "founded")
        self._put(day, d, new, "founded", kind, raw, tenant)
        out.append(fact_out(FACTS, new, raw, kind, tenant))
        at = self.now_ms()
        moving = set(self.identity.crosswalk.linked_to(old))  # source keys identity-route adopted too
        for entry in [e for e in self._day(day).entries.values() if e.c == old]:
            e_raw = self._raw(day, entry)
            e_kind, e_rec = self.decode(e_raw)
            e_d = description_of(e_rec)
            self._link(e_d, new, e_rec, out, "match", score, "matcher")
            e_tenant = entry.t
            self._put(day, e_d, new, "match", e_kind, e_raw, e_tenant)
            move = f"rename-{candidate_id_of(e_d.keys[0], new)}-{at}"
            out.append(fact_out(FACTS, old, e_raw, e_kind, e_tenant, f"retract/{move}"))
            out.append(fact_out(FACTS, new, e_raw, e_kind, e_tenant, move))
            moving.update(e_d.keys)
            stale = self.table.get(f"c|{day}|{candidate_id_of(e_d.keys[0], old)}")
            if stale is not None and stale["state"] == "ACCEPTED":  # its link to ``old`` is gone
                stale.update(state="UNDONE", decided_by="matcher", decided_at=at)
                self._save(day, stale, out)
            cand = self._candidate(day, e_d, new, score, why, e_kind, e_raw, best=d)
            cand.update(state="ACCEPTED", decided_by="matcher", decided_at=at)
            self._save(day, cand, out)
        described = {k for e in self._day(day).entries.values() if e.c == new for k in e.d.keys}
        for k in sorted(moving - described):  # adopted by identity-route: no description names it
            self.identity.crosswalk.put(k, new, "match")  # published too, so that a worker started
            self.identity.publish_link(k, new, rec["fact_id"], rec["event_time"], "match", score, "matcher",
                                       out)  # later (its crosswalk read from the topic) routes it here
        for k in sorted(moving - set(d.keys)):
            out.append((RELEASE, k, json.dumps({"to": new, "keys": [k]}).encode(), REROUTE_KIND))
        log.info("performance named by its sector id", extra={
            "performance_key": d.keys[0], "performance_id": new, "from": old, "score": score, "why": why})

    # -- the day's state -------------------------------------------------------------------
    def _day(self, day: str) -> Day:
        today = self.days.get(day)
        if today is None:
            today = self.days[day] = Day()
        return today

    def _index(self, day: str, indexed: Indexed) -> None:
        """Index a description (a ``d|`` entry); its fact's bytes stay in the table only
        (read back by ``_raw`` for a rename or an undo), not in memory for every performance."""
        today = self._day(day)
        pk = indexed.d.keys[0]
        old = today.entries.get(pk)
        today.entries[pk] = indexed
        for k in indexed.d.keys:
            today.keys[k] = pk
        if old is None and today.matcher is not None:
            today.matcher.add(indexed.d, indexed.c)  # a new one: no rebuild
        else:
            today.matcher = None  # changed: rebuilt when next needed

    def _raw(self, day: str, entry: Indexed) -> bytes:
        """The calendar fact's bytes of an indexed description, from the table."""
        return base64.b64decode(self.table[f"d|{day}|{entry.d.keys[0]}"]["f"])

    def _matcher(self, day: str) -> Matcher:
        today = self._day(day)
        if today.matcher is None:
            today.matcher = self.make_matcher()
            for entry in today.entries.values():
                today.matcher.add(entry.d, entry.c)
        return today.matcher

    def _put(self, day: str, d: Description, canonical: str, reason: str, kind: str, raw: bytes,
             tenant: str | None = None) -> None:
        entry = {"d": d.to_json(), "c": canonical, "r": reason, "k": kind,
                 "f": base64.b64encode(raw).decode()}
        if tenant is not None:
            entry["t"] = tenant
        self.table[f"d|{day}|{d.keys[0]}"] = entry
        # d as it is, not read back
        self._index(day, Indexed(d, shared(canonical), reason, kind, shared(tenant)))

    def _known(self, day: str, d: Description, canonical: str, kind: str, raw: bytes, rec: dict[str, Any],
               out: list[Out] | None, tenant: str | None = None) -> None:
        """``d`` belongs to ``canonical`` by a shared identifier: link its new keys, forward
        it (unless identity-learn did), remember it."""
        old = self._day(day).entries.get(d.keys[0])
        reason = old.r if old is not None and old.c == canonical else "identifier"
        if out is not None:
            cw = self.identity.crosswalk
            self._link(d, canonical, rec, out, "identifier", keys=[k for k in d.keys if cw.get(k) is None])
            out.append(fact_out(FACTS, canonical, raw, kind, tenant))
        self._put(day, d, canonical, reason, kind, raw, tenant)

    def _link(self, d: Description, canonical: str, rec: dict[str, Any], out: list[Out], reason: str,
              score: float | None = None, by: str | None = None, keys: list[str] | None = None) -> None:
        keys = list(d.keys) if keys is None else keys
        for k in keys:
            self.identity.crosswalk.put(k, canonical, reason)
        self.identity.publish_links(keys, canonical, rec, out, reason, score, by)

    def _candidate(self, day: str, d: Description, target: str, score: float, reason: str, kind: str,
                   raw: bytes, best: Description | None = None) -> dict[str, Any]:
        if best is None:
            matcher = self._matcher(day)
            theirs = [e.d for e in self._day(day).entries.values() if e.c == target]
            best = max(theirs, key=lambda t: (matcher.score(d, t)[0], t.keys[0]))
        return {"candidate_id": candidate_id_of(d.keys[0], target), "day": day, "state": "PENDING",
                "score": float(score), "reason": reason, "description": candidate_description(d),
                "target_id": target, "target": candidate_description(best), "created_at": self.now_ms(),
                "decided_by": None, "decided_at": None, "fact_kind": kind,
                "fact": base64.b64encode(raw).decode()}

    def _hold_again(self, day: str, cid: str, d: Description, kind: str, raw: bytes, out: list[Out],
                    tenant: str | None = None) -> None:
        """A held description changed while it waits for a person: hold the newest."""
        cand = self.table.get(f"c|{day}|{cid}")
        if cand is not None and cand["description"]["keys"][0] == d.keys[0]:
            cand.update(description=candidate_description(d), fact_kind=kind,
                        fact=base64.b64encode(raw).decode())
            self._save(day, cand, out)
            self._hold_tenant(day, cid, tenant)

    def _hold_tenant(self, day: str, cid: str, tenant: str | None) -> None:
        """The tenant of the fact a candidate holds (``t|<day>|<candidate>``; the candidate
        record itself is the review topic's contract)."""
        key = f"t|{day}|{cid}"
        if tenant is not None or self.table.get(key) is not None:
            self.table[key] = tenant

    def _settled(self, day: str, d: Description, canonical: str, out: list[Out]) -> None:
        """A held description was linked by an identifier meanwhile: its candidate is moot."""
        today = self._day(day)
        for cid in {today.pending.pop(k) for k in d.keys if k in today.pending}:
            cand = self.table.get(f"c|{day}|{cid}")
            if cand is not None and cand["state"] == "PENDING":
                cand.update(state="ACCEPTED" if cand["target_id"] == canonical else "REJECTED",
                            decided_by="identifier", decided_at=self.now_ms())
                self._save(day, cand, out)

    def _save(self, day: str, cand: dict[str, Any], out: list[Out]) -> None:
        self.table[f"c|{day}|{cand['candidate_id']}"] = cand
        try:
            out.append((REVIEW, cand["candidate_id"], self.encode_candidate(cand), None))
        except Exception as exc:  # noqa: BLE001 - the table has it; the review topic will on its next change
            log.warning("match candidate not published", extra={"candidate": cand["candidate_id"],
                                                                "error": str(exc)[:300]})
