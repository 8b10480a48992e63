// Unit tests of the sidebar's pure logic: node --test (node 20, no dependencies).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const sla = require("../assets/sla.js");

const MIN = 60 * 1000;
const at = (iso) => Date.parse(iso);

test("countdown before the due time says how long is left", () => {
  const state = { status: "pending", dueAt: at("2026-12-07T14:05:00Z") };
  assert.equal(sla.countdown(state, at("2026-12-07T13:23:00Z")), "due in 42 min");
  assert.equal(sla.countdown(state, at("2026-12-07T14:04:30Z")), "due in less than a minute");
  assert.equal(sla.countdown(state, at("2026-12-07T10:00:00Z")), "due in 4 h 05 min");
  assert.equal(sla.countdown(state, at("2026-12-07T12:05:00Z")), "due in 2 h");
  assert.equal(sla.countdown(state, at("2026-12-04T10:05:00Z")), "due in 3 days 4 h");
});

test("countdown after the due time says how long ago it breached", () => {
  const state = { status: "breached", dueAt: at("2026-12-07T14:05:00Z") };
  assert.equal(sla.countdown(state, at("2026-12-07T14:17:00Z")), "breached 12 min ago");
  assert.equal(sla.countdown(state, at("2026-12-07T14:05:00Z")), "breached less than a minute ago");
});

test("a met SLA shows when the first response was, not a countdown", () => {
  const state = { status: "met", dueAt: at("2026-12-07T14:05:00Z"), firstResponseAt: at("2026-12-07T13:00:00Z") };
  assert.equal(sla.countdown(state, at("2026-12-07T15:00:00Z")), "responded 2 h ago");
});

test("the state moves on with the clock between two answers of the sidecar", () => {
  const view = {
    sla: {
      status: "pending",
      due_at: "2026-12-07T14:05:00Z",
      at_risk_at: "2026-12-07T13:50:00Z",
      first_response_at: null,
    },
  };
  const pick = (iso) => sla.chooseState({ view, now: at(iso) }).status;
  assert.equal(pick("2026-12-07T13:49:59Z"), "pending");
  assert.equal(pick("2026-12-07T13:50:00Z"), "at_risk");
  assert.equal(pick("2026-12-07T14:05:00Z"), "breached"); // due is the deadline itself
});

test("met and breached are settled: the clock does not change them", () => {
  const view = { sla: { status: "met", due_at: "2026-12-07T14:05:00Z", at_risk_at: null, first_response_at: "2026-12-07T14:00:00Z" } };
  assert.equal(sla.chooseState({ view, now: at("2026-12-08T00:00:00Z") }).status, "met");
});

test("a sidecar answer without an SLA shows none, whatever the tags say", () => {
  const state = sla.chooseState({ view: { sla: null }, ticket: { tags: ["sla_pending"] }, now: 0 });
  assert.equal(state.status, "none");
});

test("unreachable sidecar: the ticket's own tags and due field still give the clock", () => {
  const ticket = { tags: ["vip", "sla_at_risk"], dueAt: "2026-12-07T14:05:00Z" };
  const state = sla.chooseState({ view: null, ticket, now: at("2026-12-07T14:00:00Z") });
  assert.equal(state.status, "at_risk");
  assert.equal(state.source, "ticket");
  assert.equal(state.dueAt, at("2026-12-07T14:05:00Z"));
  const later = sla.chooseState({ view: null, ticket, now: at("2026-12-07T14:06:00Z") });
  assert.equal(later.status, "breached");
  assert.equal(sla.chooseState({ view: null, ticket: { tags: [] }, now: 0 }).status, "none");
});

test("a due field that is not a full ISO instant is ignored, not misread", () => {
  assert.equal(sla.parseInstant("2026-12-07"), null);
  assert.equal(sla.parseInstant("2026-12-07T14:05:00"), null); // no zone
  assert.equal(sla.parseInstant("tomorrow"), null);
  assert.equal(sla.parseInstant("2026-12-07T14:05:00+01:00"), at("2026-12-07T13:05:00Z"));
});

test("the due instant is shown in the agent's zone and locale", () => {
  const due = at("2026-12-07T13:05:00Z");
  const now = at("2026-12-07T12:00:00Z");
  assert.equal(sla.localTime(due, { timeZone: "Europe/Berlin", locale: "de-DE", now }), "14:05");
  assert.equal(sla.localTime(due, { timeZone: "America/New_York", locale: "en-US", now }), "08:05 AM");
  assert.equal(
    sla.headline({ status: "pending", dueAt: due }, { timeZone: "Europe/Berlin", locale: "en-GB", now: at("2026-12-07T12:23:00Z") }),
    "due in 42 min · 14:05 your time",
  );
});

test("another local day shows the day too", () => {
  const due = at("2026-12-07T23:30:00Z"); // already Tuesday in Berlin
  const now = at("2026-12-07T12:00:00Z");
  assert.equal(sla.localTime(due, { timeZone: "Europe/Berlin", locale: "en-GB", now }), "Tue 8 Dec, 00:30");
  assert.equal(sla.localTime(due, { timeZone: "America/Los_Angeles", locale: "en-GB", now }), "15:30");
});

test("across a DST change the offset of the due instant applies, not today's", () => {
  // Europe/Berlin leaves summer time on 2026-10-25 at 01:00 UTC.
  const now = at("2026-10-24T20:00:00Z"); // 22:00 CEST
  const due = at("2026-10-25T09:00:00Z"); // 10:00 CET (would be 11:00 with CEST)
  assert.equal(sla.localTime(due, { timeZone: "Europe/Berlin", locale: "en-GB", now }), "Sun 25 Oct, 10:00");
  assert.equal(sla.zoneName(due, { timeZone: "Europe/Berlin", locale: "en-GB" }), "CET");
  assert.equal(sla.zoneName(now, { timeZone: "Europe/Berlin", locale: "en-GB" }), "CEST");
  // New York springs forward on 2026-03-08: 02:30 local does not exist.
  const ny = at("2026-03-08T07:30:00Z"); // 03:30 EDT
  assert.equal(sla.localTime(ny, { timeZone: "America/New_York", locale: "en-GB", now: ny }), "03:30");
});

test("the agent's zone comes from ZAF's currentUser, else the browser's", () => {
  assert.equal(sla.userTimeZone({ timeZone: { ianaName: "Asia/Kolkata", name: "Kolkata" } }), "Asia/Kolkata");
  assert.equal(sla.userTimeZone({ timeZone: { name: "Eastern Time (US & Canada)" } }), undefined);
  assert.equal(sla.userTimeZone({ timeZone: "Europe/Paris" }), "Europe/Paris");
  assert.equal(sla.userTimeZone(null), undefined);
  assert.equal(sla.userLocale({ locale: "fr" }), "fr");
  assert.equal(sla.userLocale({ locale: "" }), undefined);
});

test("screen readers hear a state change once, not every tick", () => {
  const pending = { status: "pending" };
  assert.equal(sla.announcement(null, pending), null);
  assert.equal(sla.announcement(pending, { status: "pending" }), null);
  assert.equal(sla.announcement(pending, { status: "at_risk" }), "SLA at risk");
  assert.equal(sla.announcement({ status: "at_risk" }, { status: "breached" }), "SLA breached");
});

test("every status has a word, so colour is never the only signal", () => {
  for (const status of ["pending", "at_risk", "breached", "met", "none"]) {
    assert.ok(sla.LABELS[status].length > 0, status);
  }
});

test("severities parse by the sidecar's own rules", () => {
  assert.equal(sla.parseSeverity("sev_1"), 1);
  assert.equal(sla.parseSeverity("severity_4"), 4);
  assert.equal(sla.parseSeverity("SEV 2 - High"), 2);
  assert.equal(sla.parseSeverity("Critical (SEV 1)"), 1);
  assert.equal(sla.parseSeverity("sev_12"), null);
  assert.equal(sla.parseSeverity(null), null);
});

test("a skipped gap of the why reads as words in the agent's zone", () => {
  const gap = {
    start: "2026-12-25T01:00:00Z",
    end: "2026-12-28T05:00:00Z",
    kind: "holiday",
    days: [{ date: "2026-12-25", reason: "holiday (Christmas Day)" }, { date: "2026-12-27", reason: "closed day" }],
  };
  const text = sla.skippedText(gap, { timeZone: "UTC", locale: "en-GB", now: at("2026-12-24T12:00:00Z") });
  assert.equal(text, "holiday: Fri 25 Dec, 01:00 → Mon 28 Dec, 05:00 (2026-12-25 Christmas Day)");
  assert.ok(sla.span(5 * MIN) === "5 min");
});

test("the on-call line says who acknowledged and when, else how far the page got", () => {
  const opts = { timeZone: "Europe/Berlin", locale: "en-GB", now: at("2026-12-07T14:10:00Z") };
  const base = { pages: true, paged: true, resolved: false, acknowledged: true };
  const incident = { status: "acknowledged", acknowledged_by: "Dana Oncall", acknowledged_at: "2026-12-07T14:03:11.000Z" };
  assert.equal(sla.oncallState({ ...base, incident }, opts), "Acknowledged by Dana Oncall at 15:03");
  // The tag without the detail (the store's entry lapsed): still acknowledged.
  assert.equal(sla.oncallState({ ...base, incident: null }, opts), "Acknowledged by on-call");
  const open = { ...base, acknowledged: false };
  assert.equal(sla.oncallState({ ...open, incident: null }, opts), "Paged, not acknowledged yet");
  assert.equal(sla.oncallState({ ...open, incident: { ...incident, status: "resolved" } }, opts), "Paged, resolved in PagerDuty");
  assert.equal(sla.oncallState({ ...open, resolved: true, incident: null }, opts), "Paged, resolved");
  assert.equal(sla.oncallState({ pages: false, paged: false, resolved: false, acknowledged: false, incident: null }, opts), "Not paged");
  assert.equal(
    sla.oncallState({ pages: true, paged: false, resolved: false, acknowledged: false, requested_by: "Agent Smith", incident: null }, opts),
    "Paging on-call, asked by Agent Smith (not yet recorded)",
  );
});

test("each metric beyond the first response gets a row whose state moves with the clock", () => {
  const metrics = [
    { name: "first_response", state: "met", due: "2026-12-07T12:00:00Z", at_risk_at: null, paused: false },
    { name: "next_reply", state: "pending", due: "2026-12-07T15:00:00Z", at_risk_at: "2026-12-07T14:00:00Z", paused: false },
    { name: "resolution", state: "pending", due: null, at_risk_at: null, paused: true },
    { name: "periodic_update", state: "inactive", due: null, at_risk_at: null, paused: false },
  ];
  const opts = (iso) => ({ now: at(iso), timeZone: "UTC", locale: "en-GB" });
  const rows = sla.metricRows(metrics, opts("2026-12-07T13:00:00Z"));
  assert.deepEqual(rows.map((r) => r.name), ["next_reply", "resolution", "periodic_update"]);
  assert.equal(rows[0].word, "On track");
  assert.equal(rows[0].text, "due in 2 h · 15:00 your time");
  assert.equal(rows[1].word, "Paused");
  assert.equal(rows[1].text, "paused (on track)");
  assert.equal(rows[2].word, "Nothing due");
  const later = sla.metricRows(metrics, opts("2026-12-07T14:30:00Z"));
  assert.equal(later[0].word, "At risk");
  assert.equal(later[0].text, "due in 30 min · 15:00 your time");
  const late = sla.metricRows(metrics, opts("2026-12-07T15:12:00Z"));
  assert.equal(late[0].word, "Breached");
  assert.equal(late[0].text, "breached 12 min ago · 15:00 your time");
});

test("no metrics, no rows (a first-response-only ticket)", () => {
  assert.deepEqual(sla.metricRows([], { now: 0, timeZone: "UTC" }), []);
  assert.deepEqual(sla.metricRows(undefined, { now: 0, timeZone: "UTC" }), []);
});

test("on call now: the sidecar's words, unknown with its reason, or not shown", () => {
  assert.equal(sla.oncallNowText(null), null); // no API token: the row stays hidden
  assert.equal(sla.oncallNowText(undefined), null);
  assert.equal(
    sla.oncallNowText({ known: true, people: ["Tim Wright"], text: "Tim Wright (Support, level 1)" }),
    "Tim Wright (Support, level 1)",
  );
  assert.equal(
    sla.oncallNowText({ known: false, people: [], text: "unknown (PagerDuty answered HTTP 503)" }),
    "unknown (PagerDuty answered HTTP 503)",
  );
  assert.equal(sla.oncallNowText({ known: true, people: ["A", "B"] }), "A, B");
  assert.equal(sla.oncallNowText({ known: false }), "unknown");
});

test("the page hint shows only where an agent's page can follow", () => {
  const view = (over) => ({
    status: "open",
    entitlement: { entitled: true },
    oncall: { paged: false, pages: false },
    ...over,
  });
  assert.match(sla.pageHint(view({})), /Page on-call/);
  assert.equal(sla.pageHint(view({ oncall: { paged: true, pages: false } })), null);
  assert.equal(sla.pageHint(view({ oncall: { paged: false, pages: true } })), null);
  assert.equal(sla.pageHint(view({ entitlement: { entitled: false } })), null);
  assert.equal(sla.pageHint(view({ status: "solved" })), null);
  assert.equal(sla.pageHint(null), null);
});
