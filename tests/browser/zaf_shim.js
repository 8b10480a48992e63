/*
 * A fake of the few ZAF v2 client calls the sidebar uses, served in place of
 * https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js.
 * Shapes follow the ZAF docs: client.get resolves {"<path>": value, errors: {}},
 * metadata() returns the settings without the secure ones, context() names the
 * account, request({secure: true}) goes through a proxy (the harness's /proxy,
 * standing in for Zendesk's) that substitutes {{setting.*}} server-side.
 * After rendering, it reports the app's visible text to the harness.
 */
(function () {
  "use strict";
  var scenario = new URLSearchParams(location.search).get("scenario");
  var loaded = fetch("/scenario/" + scenario + ".json").then(function (r) { return r.json(); });

  function lookup(data, path) {
    if (path === "currentUser") return data.currentUser;
    if (path === "ticket.id") return data.ticket.id;
    if (path === "ticket.tags") return data.ticket.tags;
    if (path === "ticket.updatedAt") return data.ticket.updated_at;
    var m = /^ticket\.customField:custom_field_(\d+)$/.exec(path);
    if (m) return data.ticket.custom_fields[m[1]] === undefined ? null : data.ticket.custom_fields[m[1]];
    return undefined;
  }

  var client = {
    get: function (paths) {
      var list = Array.isArray(paths) ? paths : [paths];
      return loaded.then(function (data) {
        var out = { errors: {} };
        list.forEach(function (p) {
          var v = lookup(data, p);
          if (v === undefined) out.errors[p] = { message: "unknown path " + p };
          else out[p] = v;
        });
        return out;
      });
    },
    metadata: function () {
      return loaded.then(function (data) {
        return { appId: 1, installationId: 1, settings: data.settings };
      });
    },
    context: function () {
      return loaded.then(function (data) {
        return {
          product: "support",
          location: "ticket_sidebar",
          ticketId: data.ticket.id,
          account: { subdomain: data.subdomain },
        };
      });
    },
    request: function (options) {
      return fetch("/proxy", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(options),
      }).then(function (r) {
        return r.text().then(function (body) {
          if (r.ok) return JSON.parse(body);
          throw { status: r.status, responseText: body };
        });
      });
    },
    on: function () {},
    invoke: function () { return Promise.resolve({}); },
  };
  window.ZAFClient = { init: function () { return client; } };

  // Open "Why this due time" as an agent would click it, for the screenshot.
  setTimeout(function () {
    var why = document.getElementById("why");
    if (why && !why.hidden) why.open = true;
  }, 1500);

  // Report what an agent sees (text, badge state, live region) once rendered.
  setTimeout(function () {
    fetch("/report/" + scenario, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        text: document.body.innerText,
        status: (document.getElementById("badge") || {}).getAttribute ? document.getElementById("badge").getAttribute("data-status") : null,
        countdownLive: document.getElementById("countdown").getAttribute("aria-live"),
        announce: document.getElementById("announce").textContent,
      }),
    });
  }, 2500);
})();
