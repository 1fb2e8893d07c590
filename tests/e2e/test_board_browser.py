"""The last-minute board in a real headless Chromium: it shows a performance and follows
a change live over SSE.

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) and the ``selenium`` package; Selenium Manager is kept offline
(nothing is downloaded). The "make a change" step is the ``make_change`` fixture: today it
produces the derived records itself; the full-pipeline version (a sale through a connector)
overrides that fixture.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.kafka import make_admin, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import ClickHouseSettings, KafkaSettings, RegistrySettings, Settings
from bus.topics import AVAILABILITY, LASTMINUTE, apply_catalog
from schemas.models import Availability, AvailabilityStatus, LastMinuteOffer, utcnow
from sinks.gateway.server import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = os.environ.get("CULTUURBUS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CULTUURBUS_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
WAIT_S = 30.0
CAPACITY = 240
START_REMAINING = 9

#: (performance_id, remaining) -> None: makes the bus say that ``remaining`` seats are left.
ChangeFn = Callable[[str, int], None]

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def board_settings(stack) -> Settings:  # type: ignore[no-untyped-def]
    """Bus settings on the test stack with a prefix of this module; catalog applied."""
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, client_id="cultuurbus-e2e"),
                        registry=RegistrySettings(url=stack.registry_url),
                        clickhouse=ClickHouseSettings(url=stack.clickhouse_url),
                        topic_prefix=f"e{uuid.uuid4().hex[:6]}.")
    apply_catalog(make_admin(settings.kafka), settings.topic_prefix)
    return settings


class DerivedRecords:
    """Produces Availability and LastMinuteOffer records as the streams would."""

    def __init__(self, settings: Settings) -> None:
        registry = Registry(settings.registry)
        self.avail_topic = settings.topic_prefix + AVAILABILITY
        self.offer_topic = settings.topic_prefix + LASTMINUTE
        self.avail = AvroSerializer(registry, self.avail_topic, "availability.avsc")
        self.offer = AvroSerializer(registry, self.offer_topic, "lastminute_offer.avsc")
        self.producer = make_producer(settings.kafka)
        self.versions: dict[str, int] = {}
        self.start = utcnow() + timedelta(hours=1)

    def publish(self, pid: str, remaining: int) -> None:
        now = utcnow()
        version = self.versions[pid] = self.versions.get(pid, 0) + 1
        status = AvailabilityStatus.LIMITED if remaining <= 10 else AvailabilityStatus.AVAILABLE
        common: dict[str, Any] = {"performance_id": pid, "title": "De Gebroeders Karamazov", "venue_name": "Stadsschouwburg",
                  "city": "Utrecht", "region": "Utrecht", "genre": "Toneel", "start": self.start,
                  "status": status, "updated_at": now}
        avail = Availability(capacity=CAPACITY, sold=CAPACITY - remaining, remaining=remaining,
                             schema_org_availability="https://schema.org/LimitedAvailability",
                             version=version, **common)
        offer = LastMinuteOffer(remaining=remaining, capacity=CAPACITY, url="https://example.org/tickets",
                                **common)
        self.producer.produce(self.avail_topic, key=pid.encode(), value=self.avail(avail))
        self.producer.produce(self.offer_topic, key=pid.encode(), value=self.offer(offer))
        assert self.producer.flush(WAIT_S) == 0


@pytest.fixture(scope="module")
def derived(board_settings: Settings) -> DerivedRecords:
    return DerivedRecords(board_settings)


@pytest.fixture
def make_change(derived: DerivedRecords) -> ChangeFn:
    """Swappable: the full-pipeline version sells a ticket through a connector instead."""
    return derived.publish


@pytest.fixture
def performance(derived: DerivedRecords) -> str:
    pid = f"dip|NL-E2E-{uuid.uuid4().hex[:6]}|1"
    derived.publish(pid, START_REMAINING)
    return pid


@pytest.fixture
def gateway(board_settings: Settings, performance: str) -> Iterator[Gateway]:
    gw = Gateway(board_settings, host="127.0.0.1", port=0).start()
    try:
        deadline = time.monotonic() + WAIT_S
        while httpx.get(f"{gw.url}/healthz").status_code != 200:
            assert time.monotonic() < deadline, "gateway not ready"
            time.sleep(0.05)
        yield gw
    finally:
        gw.close()


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    profile = tempfile.mkdtemp(prefix="cultuurbus-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument("--window-size=390,844")  # a phone
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _remaining(driver, pid: str) -> str | None:  # type: ignore[no-untyped-def]
    return driver.execute_script(  # type: ignore[no-any-return]
        "const el = [...document.querySelectorAll('[data-performance-id]')]"
        ".find(e => e.dataset.performanceId === arguments[0]);"
        "return el ? el.dataset.remaining : null;", pid)


def _wait_remaining(driver, pid: str, want: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    seen = None
    while time.monotonic() < deadline:
        seen = _remaining(driver, pid)
        if seen == str(want):
            return
        time.sleep(0.1)
    raise AssertionError(f"board shows remaining={seen!r} for {pid}, expected {want} within {WAIT_S} s")


def test_board_shows_a_performance_and_follows_a_change_live(
        gateway: Gateway, browser, performance: str, make_change: ChangeFn,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    browser.get(f"{gateway.url}/board")
    _wait_remaining(browser, performance, START_REMAINING)
    row = browser.execute_script(
        "const el = [...document.querySelectorAll('[data-performance-id]')]"
        ".find(e => e.dataset.performanceId === arguments[0]);"
        "return {title: el.querySelector('.title').textContent, badge: el.querySelector('.badge').textContent,"
        " time: el.querySelector('time').textContent, seats: el.querySelector('.count').textContent,"
        " where: el.querySelector('.where').textContent, status: el.dataset.status};", performance)
    assert row["title"] == "De Gebroeders Karamazov"
    assert row["badge"] == "LIMITED" and row["status"] == "LIMITED"
    assert row["where"] == "Stadsschouwburg, Utrecht"
    assert f"of {CAPACITY}" in row["seats"]
    assert len(row["time"]) == 5 and row["time"][2] == ":"
    # The live stream is open (EventSource connected) before the change is made.
    deadline = time.monotonic() + WAIT_S
    while browser.execute_script("return document.getElementById('conn').dataset.state") != "live":
        assert time.monotonic() < deadline, "the board never connected its event stream"
        time.sleep(0.1)

    make_change(performance, START_REMAINING - 1)

    _wait_remaining(browser, performance, START_REMAINING - 1)
    # Readable at phone width: nothing wider than the screen.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert browser.execute_script("return document.documentElement.lang") == "en"
    shot = Path(os.environ.get("BOARD_SCREENSHOT", tmp_path / "board.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shot))
    print(f"\nboard screenshot: {shot}")
