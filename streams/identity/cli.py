"""``cultuurbus identity ...``: the review queue of identity matching, and why links exist.

``candidates`` lists PENDING match candidates (both descriptions in local time, score,
reason); ``accept``/``reject`` decide one, ``undo`` gives a description linked by a match
or a person its own performance again; ``links`` shows a link and why it was made. The
commands read the compacted review and identity topics with the bus's compacted reader
and write a decision (kind ``decision``) to ``streams.match`` keyed by the candidate's
day, so the one ``identity-match`` instance that holds that day applies it in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import click

from bus.codec import KIND_HEADER
from bus.compacted import CompactedReader, Handler, Record
from bus.errors import BusError, RetriableError
from bus.kafka import produce_acked
from bus.localtime import local_text
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY, MATCH, REVIEW, topic_name
from streams.identity.crosswalk import UNDOABLE
from streams.identity.match_domain import DECISION_KIND

__all__ = ["identity"]

_READ_TIMEOUT_S = 60.0


def _read(settings: Settings, topic: str, schema: str) -> dict[str, Any]:
    """The latest value per key of a compacted topic (tombstones dropped)."""
    latest: dict[str, Any] = {}

    def apply(rec: Record) -> str:
        key = (rec.key or b"").decode()
        if rec.value is None:
            latest.pop(key, None)
            return "tombstone"
        latest[key] = rec.value
        return "applied"

    name = topic_name(topic, settings.topic_prefix)
    deserialize = AvroDeserializer(Registry(settings.registry), schema)
    reader = CompactedReader(settings.kafka, {name: Handler(topic, deserialize, apply)},
                             source="identity-cli", isolation_level="read_uncommitted").start()
    try:
        if not reader.wait_ready(_READ_TIMEOUT_S):
            raise RetriableError(f"could not read {name} to its end within {_READ_TIMEOUT_S:g} s "
                                 f"({reader.error or 'no end reached'}); is Kafka up and the catalog applied "
                                 "(`cultuurbus topics apply`)?")
    finally:
        reader.close()
    return dict(latest)


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def _when(ms: Any) -> str:
    value = ms if isinstance(ms, datetime) else datetime.fromtimestamp(int(ms) / 1000, UTC)
    return local_text(value, fmt="%a %d %b %Y %H:%M")


def _describe(d: dict[str, Any]) -> str:
    where = ", ".join(x for x in (d.get("venue_name"), d.get("venue_city"), d.get("venue_postcode")) if x)
    return f"{d['title']!r} at {where or '?'}, {_when(d['start'])} ({d['source']}; {', '.join(d['keys'])})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "fact"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _pending(settings: Settings) -> dict[str, dict[str, Any]]:
    every = _read(settings, REVIEW, "identity_candidate.avsc")
    return {k: v for k, v in every.items() if v["state"] == "PENDING"}


def _send(settings: Settings, day: str, decision: dict[str, Any], topic: str = MATCH) -> None:
    """A decision to the agent that applies it: ``streams.match`` keyed by the candidate's
    day, or ``streams.venues`` (one partition) keyed by the venue id."""
    error = produce_acked(settings.kafka, topic_name(topic, settings.topic_prefix), day.encode(),
                          json.dumps(decision).encode(), headers=[(KIND_HEADER, DECISION_KIND.encode())])
    if error:
        raise RetriableError(f"Kafka did not take the decision ({error}); nothing was decided: check this "
                             "principal may write the topic, then run the command again")


@click.group()
def identity() -> None:
    """Identity matching: review candidates, accept or reject them, undo a link, see why a link exists."""


@identity.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per candidate, per line.")
@click.pass_context
def candidates(ctx: click.Context, as_json: bool) -> None:
    """List the PENDING match candidates: both descriptions (local time), score and reason."""
    pending = _pending(_settings(ctx))
    for cid, cand in sorted(pending.items(), key=lambda kv: (kv[1]["day"], kv[0])):
        if as_json:
            click.echo(json.dumps(_jsonable(cand), sort_keys=True))
            continue
        click.echo(f"{cid}  score {cand['score']:.1f}  ({cand['reason']})\n"
                   f"    held:    {_describe(cand['description'])}\n"
                   f"    matches: {_describe(cand['target'])}  -> {cand['target_id']}")
    if not as_json:
        click.echo(f"{len(pending)} pending candidate(s); decide with `cultuurbus identity accept|reject ID`")


def _decision_command(name: str, decide: Callable[..., None], help_text: str, *arguments: str,
                      by_help: str = "Who decided.") -> None:
    """Add ``identity NAME ARGUMENTS... [--by NAME]``, a person's decision: click calls
    ``decide(ctx, <argument>=..., by=...)``."""
    params: list[click.Parameter] = [click.Argument([argument]) for argument in arguments]
    params.append(click.Option(["--by"], default="operator", show_default=True, help=by_help))
    identity.add_command(click.Command(name, callback=click.pass_context(decide), params=params,
                                       help=help_text))


def _decide(ctx: click.Context, action: str, candidate_id: str, by: str) -> None:
    settings = _settings(ctx)
    cand = _pending(settings).get(candidate_id)
    if cand is None:
        raise BusError(f"no PENDING candidate {candidate_id!r}; list them with "
                       "`cultuurbus identity candidates`")
    _send(settings, cand["day"], {"action": action, "candidate": candidate_id, "by": by})
    target = cand["target_id"] if action == "accept" else "its own performance"
    click.echo(f"{action}ed {candidate_id}: {cand['description']['keys'][0]} -> {target} (by {by})")


def _undo(ctx: click.Context, key: str, by: str) -> None:
    settings = _settings(ctx)
    link = _read(settings, IDENTITY, "identity_link.avsc").get(key)
    if link is None:
        raise BusError(f"{key!r} is not linked to any performance; see `cultuurbus identity links`")
    if link["reason"] not in UNDOABLE:
        raise BusError(f"{key!r} is linked to {link['performance_id']} by {link['reason']}, not by a match "
                       "or a person: only those links can be undone")
    accepted = [c for c in _read(settings, REVIEW, "identity_candidate.avsc").values()
                if c["state"] == "ACCEPTED" and key in c["description"]["keys"]
                and c["target_id"] == link["performance_id"]]
    if not accepted:
        raise BusError(f"no accepted match of {key!r} to {link['performance_id']} is on record; "
                       "nothing to undo")
    cand = max(accepted, key=lambda c: c["decided_at"] or c["created_at"])
    _send(settings, cand["day"], {"action": "undo", "candidate": cand["candidate_id"], "by": by})
    click.echo(f"undo {cand['candidate_id']}: {key} leaves {link['performance_id']} (by {by})")


_BY_HELP = "Who decides (recorded on the link)."
_decision_command("accept", partial(_decide, action="accept"),
                  "Link a candidate's description to the performance it matched; its parked facts follow.",
                  "candidate_id", by_help=_BY_HELP)
_decision_command("reject", partial(_decide, action="reject"),
                  "Make a candidate's description its own performance; its parked facts follow.",
                  "candidate_id", by_help=_BY_HELP)
_decision_command("undo", _undo,
                  "Undo the link of KEY (namespace|value) made by a match or a person: its description "
                  "gets its own performance again, and what was counted is re-routed.",
                  "key", by_help=_BY_HELP)


@identity.command()
@click.argument("key", required=False)
@click.pass_context
def links(ctx: click.Context, key: str | None) -> None:
    """Show the link of KEY (or every link) and why it was made."""
    every = _read(_settings(ctx), IDENTITY, "identity_link.avsc")
    chosen = {key: every.get(key)} if key else every
    if key and chosen[key] is None:
        raise BusError(f"{key!r} is not linked to any performance")
    for k, link in sorted(chosen.items()):
        assert link is not None  # noqa: S101 - checked above
        why = link["reason"] + (f" score {link['score']:.1f}" if link.get("score") is not None else "")
        by = f" by {link['decided_by']}" if link.get("decided_by") else ""
        click.echo(f"{k} -> {link['performance_id']}  ({why}{by}; learned from {link['learned_from']})")


@identity.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per venue id, per line.")
@click.pass_context
def venues(ctx: click.Context, as_json: bool) -> None:
    """List the venue crosswalk: each venue id, its canonical venue, why (performance, match
    with score) and a candidate for a person to judge."""
    from bus.topics import VENUE_LINKS

    every = _read(_settings(ctx), VENUE_LINKS, "venue_link.avsc")
    groups: dict[str, list[dict[str, Any]]] = {}
    for link in every.values():
        groups.setdefault(link["canonical_id"], []).append(link)
    for canonical, members in sorted(groups.items()):
        for link in sorted(members, key=lambda v: (v["venue_id"] != canonical, v["venue_id"])):
            if as_json:
                click.echo(json.dumps(_jsonable(link), sort_keys=True))
                continue
            why = link["reason"] + (f" score {link['score']:.1f}" if link.get("score") is not None else "")
            why += f" via {link['via']}" if link.get("via") else ""
            why += f" (performance {link['evidence']})" if link.get("evidence") else ""
            place = (link["name"], link.get("postcode"), link.get("city"), link["country"])
            where = ", ".join(x for x in place if x)
            maybe = (f"; candidate {link['candidate_id']} score {link['candidate_score']:.1f}"
                     if link.get("candidate_id") else "")
            click.echo(f"{link['venue_id']} -> {canonical}  ({why}{maybe})  {where}")
    if not as_json:
        click.echo(f"{len(every)} venue id(s), {len(groups)} venue(s)")


def _venue_decision(ctx: click.Context, action: str, venue_id: str, by: str,
                    other_id: str | None = None) -> None:
    from bus.topics import VENUE_LINKS, VENUES

    settings = _settings(ctx)
    known = _read(settings, VENUE_LINKS, "venue_link.avsc")
    missing = [v for v in (venue_id, other_id) if v is not None and v not in known]
    if missing:
        raise click.ClickException(f"no venue id {', '.join(map(repr, missing))} on the venue crosswalk; "
                                   "list them with `cultuurbus identity venues`")
    if action == "undo" and known[venue_id]["canonical_id"] == venue_id and not any(
            link["canonical_id"] == venue_id for k, link in known.items() if k != venue_id):
        raise click.ClickException(f"venue {venue_id!r} is linked to no other venue id: nothing to undo")
    decision = {"action": action, "a": venue_id, "b": other_id, "by": by}
    _send(settings, venue_id, {"decision": decision}, topic=VENUES)
    click.echo(f"venue {action} sent for {venue_id}" + (f" and {other_id}" if other_id else "") +
               "; `cultuurbus identity venues` shows the result within seconds")


_decision_command("venue-accept", partial(_venue_decision, action="accept"),
                  "VENUE_ID and OTHER_ID are one venue (a candidate accepted, or any two ids).",
                  "venue_id", "other_id", by_help="Who decided (kept with the link).")
_decision_command("venue-reject", partial(_venue_decision, action="reject"),
                  "VENUE_ID and OTHER_ID are two venues: a candidate refused, or their link removed; no "
                  "performance or name joins them again.",
                  "venue_id", "other_id")
_decision_command("venue-undo", partial(_venue_decision, action="undo"),
                  "Take VENUE_ID out of the venue it was linked to: it is its own venue again, and only a "
                  "person's venue-accept joins it with those ids again.",
                  "venue_id")
