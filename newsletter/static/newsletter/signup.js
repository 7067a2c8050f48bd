// Sign-up and manage pages: fill the time zone from the browser and keep the preview live.
// The page works without this file: the Preview button asks the server for the same panel.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  var panel = document.getElementById("preview");
  if (!form || !panel || !window.fetch) { return; }
  document.documentElement.classList.add("js");

  var zone = form.querySelector("select[data-prefill-time-zone]");
  if (zone) {
    try {
      var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      for (var i = 0; i < zone.options.length; i++) {
        if (zone.options[i].value === browserZone) { zone.value = browserZone; break; }
      }
    } catch (error) { /* an old browser keeps the server's default */ }
  }

  // The panel's count, repeated in a bar that stays on screen on a phone (see signup.css).
  var count = document.getElementById("preview-count");
  function showCount() {
    if (!count) { return; }
    var line = panel.querySelector(".rate, .error");
    count.textContent = line ? line.textContent.replace(/\s+/g, " ").trim() : "";
    count.hidden = !line;
  }
  showCount();

  var FILTERS = ["topics", "own_query", "categories", "authors", "include_cross_lists"];
  var timer = null;
  var inFlight = null;

  function filterQuery() {
    var data = new FormData(form);
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      data.getAll(name).forEach(function (value) { params.append(name, value); });
    });
    if (form.id === "signup-form") { params.append("rate", "1"); }
    return params.toString();
  }

  var shown = filterQuery();

  function refresh() {
    var query = filterQuery();
    if (query === shown) { return; }
    shown = query;
    if (inFlight) { inFlight.abort(); }
    inFlight = new AbortController();
    panel.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview-url") + "?" + query, {
      credentials: "same-origin",
      signal: inFlight.signal
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      panel.innerHTML = html;  // our own server-rendered, escaped fragment
      panel.removeAttribute("aria-busy");
      showCount();
    }).catch(function () {
      panel.removeAttribute("aria-busy");
    });
  }

  function schedule(event) {
    if (!event.target.name || FILTERS.indexOf(event.target.name) === -1) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
