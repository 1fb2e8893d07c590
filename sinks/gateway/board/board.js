// The last-minute board: a snapshot from /v1/lastminute, then live changes over SSE.
// No framework, no build step. Filters pass through from the page's query string
// (/board?region=Utrecht&city=Utrecht&genre=Dans).
(function () {
  "use strict";

  var TZ = "Europe/Amsterdam";
  var FILTERS = ["region", "city", "genre"];
  var page = new URLSearchParams(window.location.search);
  var filters = {};
  FILTERS.forEach(function (name) {
    var v = page.get(name);
    if (v) { filters[name] = v; }
  });

  var rows = new Map();          // performance_id -> {doc, el}
  var source = null;             // the EventSource
  var lastEventId = null;        // of the snapshot, until events move it on
  var days = {};                 // "YYYY-MM-DD" -> "today" | "tomorrow"
  var loading = false;

  var $ = function (id) { return document.getElementById(id); };
  var conn = $("conn");

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
  }

  function isoDay(date) {
    // en-CA formats as YYYY-MM-DD.
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit"
    }).format(date);
  }

  function computeDays() {
    var today = isoDay(new Date());
    var p = today.split("-").map(Number);
    var tomorrow = new Date(Date.UTC(p[0], p[1] - 1, p[2] + 1, 12)).toISOString().slice(0, 10);
    var out = {};
    out[today] = "today";
    out[tomorrow] = "tomorrow";
    return out;
  }

  function dayLabel(iso) {
    var p = iso.split("-").map(Number);
    return new Intl.DateTimeFormat("en-GB", {
      weekday: "long", day: "numeric", month: "long", timeZone: "UTC"
    }).format(new Date(Date.UTC(p[0], p[1] - 1, p[2], 12)));
  }

  function fold(s) { return (s || "").toLocaleLowerCase(); }

  function wanted(doc) {
    return FILTERS.every(function (name) {
      return !filters[name] || fold(doc[name]) === fold(filters[name]);
    });
  }

  function dayOf(doc) {
    return doc.start_local ? days[doc.start_local.slice(0, 10)] : undefined;
  }

  function announce(text) {
    var el = $("announce");
    el.textContent = "";
    window.setTimeout(function () { el.textContent = text; }, 50);
  }

  function badgeText(status) {
    return status === "SOLD_OUT" ? "SOLD OUT" : status;
  }

  function fill(el, doc) {
    el.dataset.performanceId = doc.performance_id;
    el.dataset.remaining = String(doc.remaining);
    el.dataset.capacity = String(doc.capacity);
    el.dataset.status = doc.status;
    el.dataset.start = doc.start;
    var time = el.querySelector("time");
    time.dateTime = doc.start_local;
    time.textContent = doc.start_local.slice(11, 16);
    el.querySelector(".title").textContent = doc.title || doc.performance_id;
    el.querySelector(".where").textContent =
      [doc.venue_name, doc.city].filter(Boolean).join(", ");
    var badge = el.querySelector(".badge");
    badge.textContent = badgeText(doc.status);
    badge.setAttribute("aria-label", "Availability: " + badgeText(doc.status).toLowerCase());
    el.querySelector(".remaining").textContent = String(doc.remaining);
    el.querySelector(".of").textContent =
      "of " + doc.capacity + (doc.remaining === 1 ? " seat left" : " seats left");
    var book = el.querySelector(".book");
    if (doc.url && /^https?:\/\//.test(doc.url)) {
      book.href = doc.url;
      book.hidden = false;
      book.setAttribute("aria-label", "Book " + (doc.title || ""));
    } else {
      book.hidden = true;
    }
  }

  function flash(el) {
    el.classList.remove("changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("changed");
  }

  function listFor(day) { return $("list-" + day); }

  function reorder(day) {
    var list = listFor(day);
    var items = Array.prototype.slice.call(list.children);
    items.sort(function (a, b) {
      return a.dataset.start < b.dataset.start ? -1 : a.dataset.start > b.dataset.start ? 1
        : (a.dataset.performanceId < b.dataset.performanceId ? -1 : 1);
    });
    items.forEach(function (el) { list.appendChild(el); });
    $("empty-" + day).hidden = items.length > 0;
  }

  function remove(pid) {
    var row = rows.get(pid);
    if (!row) { return; }
    var day = row.el.parentNode && row.el.parentNode.dataset.day;
    row.el.remove();
    rows.delete(pid);
    if (day) { reorder(day); }
  }

  function upsert(doc, live) {
    var day = dayOf(doc);
    if (!day || !wanted(doc) || Date.parse(doc.start) < Date.now()) {
      remove(doc.performance_id);
      return;
    }
    var row = rows.get(doc.performance_id);
    if (row && row.doc.updated_at > doc.updated_at) { return; } // an older copy
    if (!row) {
      var el = $("perf-template").content.firstElementChild.cloneNode(true);
      row = {doc: doc, el: el};
      rows.set(doc.performance_id, row);
    }
    var before = row.doc;
    row.doc = doc;
    fill(row.el, doc);
    var list = listFor(day);
    if (row.el.parentNode !== list) {
      var oldDay = row.el.parentNode && row.el.parentNode.dataset.day;
      list.appendChild(row.el);
      if (oldDay) { reorder(oldDay); }
    }
    reorder(day);
    if (live) {
      flash(row.el);
      if (before.status !== doc.status) {
        announce((doc.title || "") + ": " + badgeText(doc.status).toLowerCase() + ", "
          + doc.remaining + " left");
      }
    }
  }

  function onAvailability(a) {
    var row = rows.get(a.performance_id);
    if (!row || a.remaining === null || a.remaining === undefined) { return; }
    if (row.doc.updated_at > a.updated_at) { return; }
    var doc = Object.assign({}, row.doc, {
      remaining: a.remaining, capacity: a.capacity === null ? row.doc.capacity : a.capacity,
      status: a.status, updated_at: a.updated_at
    });
    upsert(doc, true);
  }

  function stamp() {
    $("updated").textContent = new Intl.DateTimeFormat("en-GB", {
      timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).format(new Date());
  }

  function handler(fn) {
    return function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      fn(data);
      stamp();
    };
  }

  function connect() {
    if (source) { source.close(); }
    var qs = new URLSearchParams({topics: "availability,lastminute"});
    if (lastEventId) { qs.set("last_event_id", lastEventId); }
    if (filters.region) { qs.set("region", filters.region); }
    source = new EventSource("/v1/stream?" + qs.toString());
    source.onopen = function () { setConn("live", "Live"); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        setConn("error", "Disconnected; retrying…");
        window.setTimeout(load, 3000);
      } else {
        setConn("connecting", "Reconnecting…");
      }
    };
    source.addEventListener("lastminute", handler(function (d) { upsert(d, true); }));
    source.addEventListener("lastminute-withdrawn", handler(function (d) { remove(d.performance_id); }));
    source.addEventListener("availability", handler(onAvailability));
    source.addEventListener("reset", function () { load(); });
  }

  function load() {
    if (loading) { return; }
    loading = true;
    days = computeDays();
    Object.keys(days).forEach(function (iso) {
      var h = $("h-" + days[iso]);
      h.textContent = (days[iso] === "today" ? "Tonight" : "Tomorrow") + " · " + dayLabel(iso);
    });
    var qs = new URLSearchParams({date: "today,tomorrow", limit: "1000"});
    FILTERS.forEach(function (name) { if (filters[name]) { qs.set(name, filters[name]); } });
    fetch("/v1/lastminute?" + qs.toString(), {headers: {Accept: "application/json"}})
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (body) {
        rows.forEach(function (row) { row.el.remove(); });
        rows.clear();
        body.items.forEach(function (doc) { upsert(doc, false); });
        ["today", "tomorrow"].forEach(reorder);
        lastEventId = body.last_event_id;
        document.body.dataset.loaded = "true";
        stamp();
        connect();
      })
      .catch(function () {
        setConn("error", "Cannot reach the gateway; retrying…");
        window.setTimeout(load, 2000);
      })
      .then(function () { loading = false; });
  }

  // Performances that started leave; at midnight "tonight" moves on.
  window.setInterval(function () {
    var now = Date.now();
    rows.forEach(function (row, pid) { if (Date.parse(row.doc.start) < now) { remove(pid); } });
    var d = computeDays();
    if (Object.keys(d).join() !== Object.keys(days).join()) { load(); }
  }, 30000);

  load();
})();
