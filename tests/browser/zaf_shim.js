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

  // Synchronous on purpose: headless Chromium's --virtual-time-budget runs the
  // page's clock on while a fetch waits, so on a loaded machine the report
  // used to go out before the sidecar had answered. Answered within the page's
  // own script, what the report sees no longer depends on the machine's load.
  function exchange(method, url, body) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, false);
    if (body !== undefined) xhr.setRequestHeader("Content-Type", "application/json");
    xhr.send(body === undefined ? null : body);
    return xhr;
  }
  var loaded = Promise.resolve(
    JSON.parse(exchange("GET", "/scenario/" + scenario + ".json").responseText)
  );

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
      var xhr = exchange("POST", "/proxy", JSON.stringify(options));
      if (xhr.status >= 200 && xhr.status < 300) {
        return Promise.resolve(JSON.parse(xhr.responseText));
      }
      return Promise.reject({ status: xhr.status, responseText: xhr.responseText });
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
    exchange("POST", "/report/" + scenario, JSON.stringify({
        text: document.body.innerText,
        status: (document.getElementById("badge") || {}).getAttribute ? document.getElementById("badge").getAttribute("data-status") : null,
        countdownLive: document.getElementById("countdown").getAttribute("aria-live"),
        announce: document.getElementById("announce").textContent,
    }));
  }, 2500);
})();
