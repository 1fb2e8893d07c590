"""UiTdatabank ``production`` (id, title, otherEvents) -> the Performance's production fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.calendar.uitdatabank.mapping import map_event
from connectors.fakes.uitdatabank import uit_event, uit_uuid
from connectors.sdk.errors import MappingError

MODIFIED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
STARTS = [datetime(2025, 4, d, 18, 0, tzinfo=UTC) for d in (10, 11)]
PRODUCTION = "10CE7CB1-7BC9-4CE4-A256-460F56C49965"
OTHERS = ["b815e4e6-d79f-40f2-b329-50e566e23367", "eb155497-46b9-4fb2-9457-d073fe02322e"]


def _event(production: Any) -> dict[str, Any]:
    event = uit_event(1, starts=STARTS, modified=MODIFIED, title="Kommil Foo - OOGST")
    event["production"] = production
    return event


def test_every_date_carries_the_production_and_the_other_events_of_the_production() -> None:
    own = uit_uuid("event", 1)
    mapped = map_event(_event({
        "id": PRODUCTION, "title": "Kommil Foo - OOGST",
        "otherEvents": [f"https://io.uitdatabank.be/events/{OTHERS[1].upper()}",
                        f"https://io-test.uitdatabank.be/events/{OTHERS[0]}",
                        f"https://io.uitdatabank.be/events/{own}"]}), account="uit")

    assert not mapped.failures
    assert [(p.production_id, p.production_other_events) for p in mapped.performances] == [
        (PRODUCTION.lower(), OTHERS)] * 2  # lower case, sorted, the event itself left out


def test_an_event_without_production_relates_to_nothing() -> None:
    event = uit_event(1, starts=STARTS, modified=MODIFIED, production=False)
    perf = map_event(event, account="uit").performances[0]
    assert (perf.production_id, perf.production_other_events) == (None, [])


@pytest.mark.parametrize(("production", "field"), [
    ({"id": PRODUCTION, "title": "x", "otherEvents": "https://io.uitdatabank.be/events/x"},
     "production.otherEvents"),
    ({"id": PRODUCTION, "title": "x", "otherEvents": ["https://io.uitdatabank.be/events/not-a-uuid"]},
     "production.otherEvents"),
    ({"id": PRODUCTION, "title": "x", "otherEvents": [{"@id": OTHERS[0]}]}, "production.otherEvents"),
    ({"id": "Kommil Foo", "title": "x", "otherEvents": []}, "production.id"),
    ({"id": 42, "title": "x", "otherEvents": []}, "production.id"),
    ("Kommil Foo - OOGST", "production"),
])
def test_a_bad_production_is_a_mapping_error_naming_the_field(production: Any, field: str) -> None:
    with pytest.raises(MappingError) as err:
        map_event(_event(production), account="uit")
    assert err.value.field == field
    assert field in str(err.value)
