// warroom pages work without this file; it makes the countdowns tick and the page live.
(function () {
  "use strict";

  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = left >= 0 ? "due in " + span(left) : "overdue by " + span(left);
      el.classList.toggle("overdue", left < 0);
    });
  }

  // A region the user is busy with: typing in it, edited it, or a refused form shows there.
  function busy(region) {
    if (region.contains(document.activeElement) || region.querySelector(".problem")) return true;
    var edited = Array.prototype.some.call(region.querySelectorAll("input, textarea"), function (f) {
      return f.value !== f.defaultValue;
    });
    return edited || Array.prototype.some.call(region.querySelectorAll("option"), function (o) {
      return o.selected !== o.defaultSelected;
    });
  }

  // Swap each live region with its fresh copy, except one the user is busy with.
  function refresh() {
    var page = document.body.dataset.page || location.pathname;
    return fetch(page, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (!next || busy(region)) return;
          var seen = {};
          region.querySelectorAll("[data-seq]").forEach(function (e) { seen[e.dataset.seq] = true; });
          region.replaceWith(next);
          next.querySelectorAll("[data-seq]").forEach(function (e) {
            if (!seen[e.dataset.seq] && Object.keys(seen).length) e.classList.add("fresh");
          });
        });
        tick();
      })
      .catch(function () {});
  }

  function live(url) {
    if (!window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("change", refresh);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var page = document.body.dataset.page;
    // after a refused form the address is the form's; reloading should not post it again
    if (page && location.pathname !== page) history.replaceState(null, "", page);
    if (document.body.dataset.live) live(document.body.dataset.live);
  });
})();
