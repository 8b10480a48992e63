/*
 * The sidebar's pure logic: which SLA state to show, the countdown text, and
 * instants in the agent's own time zone and locale. No DOM, no ZAF, no clock:
 * every function takes `now` (epoch ms), so node --test can pin any instant.
 * Loaded as a plain <script> (window.SidecarSla) and by node (require).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.SidecarSla = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var MINUTE = 60 * 1000;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;
  var STATUS_TAGS = {
    sla_pending: "pending",
    sla_at_risk: "at_risk",
    sla_breached: "breached",
    sla_met: "met",
  };
  // Words, not colours, carry the state (WCAG 1.4.1); the badge repeats them.
  var LABELS = {
    pending: "On track",
    at_risk: "At risk",
    breached: "Breached",
    met: "Met",
    none: "No SLA",
  };

  function parseInstant(value) {
    if (typeof value !== "string" || !value) return null;
    // Only full ISO 8601 instants with a zone: a bare date would be read as
    // UTC midnight by Date.parse and shown as a wrong deadline.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
      return null;
    }
    var ms = Date.parse(value);
    return isNaN(ms) ? null : ms;
  }

  // The sidecar's own rules (sidecar/sla/severity.py): option tags (sev_1,
  // severity_1, sev_1_-_critical), titles ("SEV 1 - Critical") and "Critical (SEV 1)".
  var LEADING = /^(?:sev|severity)[\s_-]*([1-5])(?![0-9])(?:[\s_-].*)?$/;
  var TRAILING = /^[a-z][a-z\s_-]*\(\s*(?:sev|severity)[\s_-]*([1-5])\s*\)$/;

  function parseSeverity(value) {
    if (value === null || value === undefined) return null;
    var text = String(value).toLowerCase().split(/\s+/).filter(Boolean).join(" ");
    if (/^[1-5]$/.test(text)) return Number(text);
    var match = LEADING.exec(text) || TRAILING.exec(text);
    return match ? Number(match[1]) : null;
  }

  /** The status the tags record (the sidecar writes exactly one). */
  function statusFromTags(tags) {
    var list = tags || [];
    for (var tag in STATUS_TAGS) {
      if (list.indexOf(tag) !== -1) return STATUS_TAGS[tag];
    }
    return null;
  }

  /**
   * Choose what to show now. `view` is the sidecar's answer (or null when it is
   * unreachable); `ticket` is what ZAF read: {dueAt, tags}. The state moves on
   * with the clock between answers: pending -> at risk -> breached.
   */
  function chooseState(opts) {
    var view = opts.view;
    var now = opts.now;
    var ticket = opts.ticket || {};
    var status, dueAt, atRiskAt, firstResponseAt;
    if (view && view.sla) {
      status = view.sla.status;
      dueAt = parseInstant(view.sla.due_at);
      atRiskAt = parseInstant(view.sla.at_risk_at);
      firstResponseAt = parseInstant(view.sla.first_response_at);
    } else if (view) {
      return { status: "none", dueAt: null, atRiskAt: null, source: "sidecar" };
    } else {
      status = statusFromTags(ticket.tags);
      dueAt = parseInstant(ticket.dueAt);
      atRiskAt = null;
      firstResponseAt = null;
      if (!status && dueAt === null) {
        return { status: "none", dueAt: null, atRiskAt: null, source: "ticket" };
      }
      status = status || "pending";
    }
    if (status !== "met" && status !== "breached" && dueAt !== null) {
      if (now >= dueAt) status = "breached";
      else if (atRiskAt !== null && now >= atRiskAt) status = "at_risk";
    }
    return {
      status: status,
      dueAt: dueAt,
      atRiskAt: atRiskAt,
      firstResponseAt: firstResponseAt,
      source: view ? "sidecar" : "ticket",
    };
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  /** "42 min", "3 h 05 min", "2 days 4 h": a span for people, rounded down. */
  function span(ms) {
    var minutes = Math.floor(ms / MINUTE);
    if (minutes < 1) return "less than a minute";
    if (minutes < 90) return minutes + " min";
    if (ms < 2 * DAY) {
      var h = Math.floor(minutes / 60);
      var m = minutes % 60;
      return h + " h" + (m ? " " + (m < 10 ? "0" : "") + m + " min" : "");
    }
    var days = Math.floor(ms / DAY);
    var hours = Math.floor((ms - days * DAY) / HOUR);
    return plural(days, "day") + (hours ? " " + hours + " h" : "");
  }

  /** The countdown: "due in 42 min", "breached 12 min ago", or for met, when. */
  function countdown(state, now) {
    if (state.status === "met") {
      return state.firstResponseAt !== null && state.firstResponseAt !== undefined
        ? "responded " + span(now - state.firstResponseAt) + " ago"
        : "first response on time";
    }
    if (state.dueAt === null || state.dueAt === undefined) return "";
    var left = state.dueAt - now;
    if (left > 0) return "due in " + span(left);
    return "breached " + span(-left) + " ago";
  }

  /** The agent's IANA zone from ZAF's currentUser, else the browser's. */
  function userTimeZone(currentUser) {
    var tz = currentUser && currentUser.timeZone;
    var candidates = [tz && tz.ianaName, typeof tz === "string" ? tz : null, tz && tz.name];
    for (var i = 0; i < candidates.length; i++) {
      var name = candidates[i];
      if (!name) continue;
      try {
        new Intl.DateTimeFormat("en", { timeZone: name });
        return name;
      } catch (e) {
        // Not an IANA name (Zendesk's display names are Rails names): next.
      }
    }
    return undefined;
  }

  function userLocale(currentUser) {
    var locale = currentUser && currentUser.locale;
    if (!locale) return undefined;
    try {
      return Intl.DateTimeFormat.supportedLocalesOf([locale]).length ? locale : undefined;
    } catch (e) {
      return undefined;
    }
  }

  function dayKey(ms, timeZone) {
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).format(new Date(ms));
  }

  /**
   * The instant in the agent's zone and locale: "14:05" today, else with the
   * day ("Mon 7 Dec, 14:05" in en-GB). DST is the zone database's business:
   * Intl applies the offset in force at that instant, not today's.
   */
  function localTime(ms, opts) {
    var timeZone = opts.timeZone;
    var locale = opts.locale;
    var sameDay = dayKey(ms, timeZone) === dayKey(opts.now, timeZone);
    var options = { timeZone: timeZone, hour: "2-digit", minute: "2-digit" };
    if (!sameDay) {
      options.weekday = "short";
      options.day = "numeric";
      options.month = "short";
    }
    return new Intl.DateTimeFormat(locale, options).format(new Date(ms));
  }

  /** The zone's short name at that instant (CET/CEST, GMT+1), for the why. */
  function zoneName(ms, opts) {
    var parts = new Intl.DateTimeFormat(opts.locale || "en", {
      timeZone: opts.timeZone,
      timeZoneName: "short",
    }).formatToParts(new Date(ms));
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") return parts[i].value;
    }
    return "";
  }

  /** The line under the badge: "due in 42 min · 14:05 your time". */
  function headline(state, opts) {
    var text = countdown(state, opts.now);
    var at = state.status === "met" ? state.firstResponseAt : state.dueAt;
    if (at === null || at === undefined) return text;
    return text + " · " + localTime(at, opts) + " your time";
  }

  /**
   * What a screen reader should hear, only when the state changes (the
   * ticking text itself is not live: it would be read every second).
   */
  function announcement(previous, next) {
    if (!previous || previous.status === next.status) return null;
    return "SLA " + LABELS[next.status].toLowerCase();
  }

  /** A skipped gap of the sidecar's why, in words. */
  function skippedText(gap, opts) {
    var kind = { night: "outside hours", weekend: "weekend", holiday: "holiday" }[gap.kind] || gap.kind;
    var start = parseInstant(gap.start);
    var end = parseInstant(gap.end);
    var text = kind + ": " + localTime(start, opts) + " → " + localTime(end, opts);
    var holidays = (gap.days || []).filter(function (d) {
      return /^holiday/.test(d.reason);
    });
    if (holidays.length) {
      text += " (" + holidays.map(function (d) { return d.date + " " + d.reason.replace(/^holiday \((.*)\)$/, "$1"); }).join("; ") + ")";
    }
    return text;
  }

  // The metrics beyond the first response (issue 21), by the sidecar's names.
  var METRIC_NAMES = {
    next_reply: "Next reply",
    periodic_update: "Periodic update",
    resolution: "Resolution",
  };

  /**
   * One row per metric beyond the first response that the sidecar measured:
   * its name, its state in words (moving on with the clock between answers,
   * as the first response's does) and what is due when. `metrics` is the
   * sidecar's list (`explain --format json`); the first response has its own
   * badge above, so it is left out here.
   */
  function metricRows(metrics, opts) {
    var now = opts.now;
    return (metrics || []).filter(function (m) {
      return m.name !== "first_response";
    }).map(function (m) {
      var due = parseInstant(m.due);
      var atRisk = parseInstant(m.at_risk_at);
      var status = m.state;
      if ((status === "pending" || status === "at_risk") && due !== null) {
        if (now >= due) status = "breached";
        else if (atRisk !== null && now >= atRisk) status = "at_risk";
      }
      var text;
      if (m.paused) {
        text = "paused (" + (status === "at_risk" ? "at risk" : "on track") + ")";
        status = status === "at_risk" ? "at_risk" : "paused";
      } else if (status === "inactive") {
        text = m.name === "next_reply" ? "no customer reply waiting" : "";
      } else if (status === "met") {
        text = "met";
      } else if (due !== null) {
        text = countdown({ status: status, dueAt: due }, now) + " · " + localTime(due, opts) + " your time";
      } else {
        text = "";
      }
      return {
        name: m.name,
        label: METRIC_NAMES[m.name] || m.name,
        status: status,
        word: status === "paused" ? "Paused" : status === "inactive" ? "Nothing due" : LABELS[status] || status,
        text: text,
      };
    });
  }

  /**
   * The on-call line of the sidebar: whether the ticket paged and what
   * PagerDuty said back ("Acknowledged by Dana Oncall at 14:03"). ``oncall``
   * is the sidecar's view.oncall; its ``incident`` is null when PagerDuty
   * told nothing (the ``acknowledged`` tag alone still says so).
   */
  function oncallState(oncall, opts) {
    var inc = oncall.incident || null;
    if (oncall.acknowledged || (inc && inc.status === "acknowledged")) {
      var who = inc && inc.acknowledged_by ? inc.acknowledged_by : "on-call";
      var ms = inc ? parseInstant(inc.acknowledged_at) : null;
      return "Acknowledged by " + who + (ms === null ? "" : " at " + localTime(ms, opts));
    }
    if (oncall.resolved) return "Paged, resolved";
    if (inc && inc.status === "resolved") return "Paged, resolved in PagerDuty";
    if (oncall.paged) return "Paged, not acknowledged yet";
    if (oncall.pages && oncall.requested_by) {
      return "Paging on-call, asked by " + oncall.requested_by + " (not yet recorded)";
    }
    if (oncall.pages) return "Pages on-call (not yet recorded)";
    return "Not paged";
  }

  /**
   * "On call now" from the sidecar's `oncall.now` (PagerDuty's REST API), or
   * null when it was not looked up (no API token, or the ticket cannot page).
   * The sidecar words it; a malformed answer still reads as unknown.
   */
  function oncallNowText(now) {
    if (!now || typeof now !== "object") return null;
    if (typeof now.text === "string" && now.text) return now.text;
    if (now.known && Array.isArray(now.people) && now.people.length) return now.people.join(", ");
    return now.known ? "nobody is on call" : "unknown";
  }

  /**
   * How an agent pages from this ticket: only where a page can follow (an
   * entitled organization's open ticket that is not paged).
   */
  function pageHint(view) {
    if (!view || !view.oncall || !view.entitlement || !view.entitlement.entitled) return null;
    if (view.oncall.paged || view.oncall.pages) return null;
    if (view.status === "solved" || view.status === "closed") return null;
    return "To page on-call now, apply the macro \u201cPage on-call\u201d and write the reason.";
  }

  return {
    LABELS: LABELS,
    oncallState: oncallState,
    metricRows: metricRows,
    oncallNowText: oncallNowText,
    pageHint: pageHint,
    announcement: announcement,
    chooseState: chooseState,
    countdown: countdown,
    headline: headline,
    localTime: localTime,
    parseInstant: parseInstant,
    parseSeverity: parseSeverity,
    skippedText: skippedText,
    span: span,
    statusFromTags: statusFromTags,
    userLocale: userLocale,
    userTimeZone: userTimeZone,
    zoneName: zoneName,
  };
});
