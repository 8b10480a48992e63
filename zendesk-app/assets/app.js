/*
 * The ticket sidebar: reads the ticket through ZAF, asks the sidecar through
 * Zendesk's proxy with the secure setting, and renders (logic in sla.js).
 */
(function () {
  "use strict";

  var S = window.SidecarSla;
  var client = window.ZAFClient.init();
  var byId = function (id) { return document.getElementById(id); };
  var app = {
    view: null,
    ticket: {},
    problem: null,
    tz: undefined,
    locale: undefined,
    previous: null,
  };

  function text(id, value) {
    byId(id).textContent = value;
  }

  function opts() {
    return { timeZone: app.tz, locale: app.locale, now: Date.now() };
  }

  function when(iso) {
    var ms = S.parseInstant(iso);
    if (ms === null) return "—";
    var o = opts();
    return S.localTime(ms, o) + " " + S.zoneName(ms, o);
  }

  function resize() {
    client.invoke("resize", { width: "100%", height: document.body.scrollHeight + 8 + "px" });
  }

  function renderFacts() {
    var view = app.view;
    var sev = view && view.severity ? view.severity.value : S.parseSeverity(app.ticket.severity);
    text("severity", sev ? "SEV " + sev : "No severity");
    if (view && view.severity && view.severity.problem) {
      text("severity", "Severity unreadable");
    }
    var sla = view && view.sla;
    var dueIso = sla ? sla.due_at : app.ticket.dueAt;
    text("due", when(dueIso));
    text("at-risk", sla ? when(sla.at_risk_at) : "—");
    text("first-response", sla && sla.first_response_at ? when(sla.first_response_at) : sla ? "none yet" : "—");
    if (view) {
      var ent = view.entitlement;
      var parts = [ent.entitled ? "Enterprise Support" : "Not entitled"];
      if (ent.plan) parts.push(ent.plan.charAt(0).toUpperCase() + ent.plan.slice(1) + " plan");
      if (ent.enhanced_policy) parts.push("enhanced SLA");
      if (ent.organization) parts.push(ent.organization.name);
      // The reason says "not entitled: …" itself; show it once, on its own line.
      var dd = byId("entitlement");
      dd.textContent = parts.join(" · ");
      if (!ent.entitled && ent.reason) {
        dd.appendChild(document.createElement("br"));
        dd.appendChild(document.createTextNode(ent.reason.replace(/^not entitled:\s*/, "")));
      }
      renderOncall(view.oncall);
      renderWhy(view.why);
    } else {
      text("entitlement", "unknown (sidecar unreachable)");
      var tags = app.ticket.tags || [];
      text("oncall", tags.indexOf("oncall_acked") !== -1 ? "Acknowledged by on-call"
        : tags.indexOf("oncall_resolved") !== -1 ? "Paged, resolved"
        : tags.indexOf("oncall_paged") !== -1 ? "Paged" : "—");
      byId("why").hidden = true;
    }
  }

  function renderOncall(oncall) {
    var dd = byId("oncall");
    dd.textContent = "";
    dd.appendChild(document.createTextNode(S.oncallState(oncall, opts())));
    var inc = oncall.incident;
    if (inc && inc.assignees && inc.assignees.length) {
      dd.appendChild(document.createElement("br"));
      dd.appendChild(document.createTextNode("Assigned to " + inc.assignees.join(", ")));
    }
    if (inc && inc.url && inc.number) {
      var a = document.createElement("a");
      a.href = inc.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = "PagerDuty incident #" + inc.number;
      dd.appendChild(document.createElement("br"));
      dd.appendChild(a);
    }
    if (oncall.dedup_key) {
      var key = document.createElement("code");
      key.textContent = oncall.dedup_key;
      dd.appendChild(document.createElement("br"));
      dd.appendChild(document.createTextNode("PagerDuty dedup key: "));
      dd.appendChild(key);
    }
    if (!oncall.paged && !oncall.pages && app.view.entitlement.entitled) {
      // Why an entitled ticket does not page (SEV 3-5, solved); a plain
      // organization's reason is the entitlement's, shown above.
      dd.appendChild(document.createElement("br"));
      dd.appendChild(document.createTextNode(oncall.reason.replace(/^no page:\s*/, "")));
    }
    var hint = S.pageHint(app.view);
    if (hint) {
      var p = document.createElement("span");
      p.className = "hint";
      p.textContent = hint;
      dd.appendChild(document.createElement("br"));
      dd.appendChild(p);
    }
    var now = S.oncallNowText(oncall.now);
    byId("oncall-now-row").hidden = now === null;
    text("oncall-now", now === null ? "—" : now);
  }

  function renderWhy(why) {
    var details = byId("why");
    if (!why) {
      details.hidden = true;
      return;
    }
    details.hidden = false;
    var hours = why.hours === why.schedule ? "" : " (" + why.hours.replace(/ \(([^)]*)\)/, ", $1") + ")";
    text("why-target", why.target + " of " + why.schedule + " time" + hours + "; the clock started " + when(why.clock_start) + ".");
    var counted = byId("why-counted");
    counted.textContent = "";
    why.counted.forEach(function (seg) {
      var li = document.createElement("li");
      li.textContent = when(seg.start) + " → " + when(seg.end) + " (" + S.span(seg.minutes * 60000) + ")";
      counted.appendChild(li);
    });
    var skipped = byId("why-skipped");
    skipped.textContent = "";
    why.skipped.forEach(function (gap) {
      var li = document.createElement("li");
      li.textContent = S.skippedText(gap, opts());
      skipped.appendChild(li);
    });
    byId("why-skipped-heading").hidden = why.skipped.length === 0;
    skipped.hidden = why.skipped.length === 0;
  }

  function renderMetrics() {
    var view = app.view;
    var section = byId("metrics");
    var rows = S.metricRows(view ? view.metrics : [], opts());
    var problem = view && view.metrics_error;
    section.hidden = rows.length === 0 && !problem;
    var list = byId("metric-rows");
    list.textContent = "";
    rows.forEach(function (row) {
      var li = document.createElement("li");
      var badge = document.createElement("span");
      badge.className = "badge";
      badge.setAttribute("data-status", row.status);
      var icon = document.createElement("span");
      icon.className = "badge-icon";
      icon.setAttribute("aria-hidden", "true");
      badge.appendChild(icon);
      badge.appendChild(document.createTextNode(row.word));
      var name = document.createElement("strong");
      name.textContent = row.label + " ";
      li.appendChild(name);
      li.appendChild(badge);
      li.appendChild(document.createTextNode(row.text ? " " + row.text : ""));
      list.appendChild(li);
    });
    var note = byId("metrics-problem");
    note.hidden = !problem;
    note.textContent = problem ? "Not measured: " + problem : "";
  }

  function tick() {
    renderMetrics();
    var state = S.chooseState({ view: app.view, ticket: app.ticket, now: Date.now() });
    var badge = byId("badge");
    badge.setAttribute("data-status", state.status);
    text("badge-text", S.LABELS[state.status]);
    text("countdown", state.status === "none" ? "" : S.headline(state, opts()));
    byId("countdown").hidden = state.status === "none";
    var said = S.announcement(app.previous, state);
    if (said) text("announce", said);
    app.previous = state;
  }

  function render() {
    byId("loading").hidden = true;
    byId("sla").hidden = false;
    byId("app").setAttribute("aria-busy", "false");
    var notice = byId("notice");
    notice.hidden = !app.problem;
    notice.textContent = app.problem || "";
    renderFacts();
    tick();
    resize();
  }

  function askSidecar(settings, ticket, subdomain) {
    var base = String(settings.sidecar_url || "").replace(/\/+$/, "");
    // updatedAt keys the sidecar's short cache: a changed ticket is read afresh.
    var query = ticket.updatedAt ? "?updated=" + encodeURIComponent(ticket.updatedAt) : "";
    return client.request({
      url: base + "/api/tickets/" + ticket.id + "/sla" + query,
      type: "GET",
      dataType: "json",
      cors: false,
      secure: true,
      headers: {
        // Substituted by Zendesk's proxy; the browser only sees the placeholder.
        Authorization: "Bearer {{setting.sidecar_secret}}",
        "X-Zendesk-Account": subdomain,
      },
    });
  }

  function problemText(error) {
    var status = error && error.status;
    if (status === 401) return "The sidecar refused the app's secret: ask an admin to check the app settings. Showing the ticket's own fields.";
    if (status === 404) return "The sidecar does not know this ticket yet. Showing the ticket's own fields.";
    return "The sidecar is unreachable right now. Showing the ticket's own fields; the clock still runs.";
  }

  function readTicket(settings) {
    var sevPath = "ticket.customField:custom_field_" + settings.severity_field_id;
    var duePath = "ticket.customField:custom_field_" + settings.due_at_field_id;
    return client.get(["ticket.id", "ticket.updatedAt", "ticket.tags", sevPath, duePath]).then(function (data) {
      app.ticket = {
        id: data["ticket.id"],
        updatedAt: data["ticket.updatedAt"],
        tags: data["ticket.tags"] || [],
        severity: data[sevPath],
        dueAt: data[duePath],
      };
      return app.ticket;
    });
  }

  function start() {
    Promise.all([client.metadata(), client.context(), client.get("currentUser")]).then(function (r) {
      var settings = r[0].settings || {};
      var context = r[1];
      var user = r[2].currentUser;
      app.tz = S.userTimeZone(user);
      app.locale = S.userLocale(user);
      var subdomain = context.account && context.account.subdomain;
      var refresh = function () {
        return readTicket(settings).then(function (ticket) {
          return askSidecar(settings, ticket, subdomain).then(function (view) {
            app.view = view;
            app.problem = null;
          }, function (error) {
            app.view = null;
            app.problem = problemText(error);
          });
        }).then(render);
      };
      refresh();
      setInterval(tick, 1000);
      // A severity change or our own write (tags) changes the answer.
      client.on("ticket.tags.changed", refresh);
      client.on("ticket.custom_field_" + settings.severity_field_id + ".changed", refresh);
      client.on("ticket.saved", function () { setTimeout(refresh, 5000); });
    });
  }

  start();
})();
