// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Idle time-out: warn a minute before the session lapses; any input resets the clock.
  var body = document.body, idle = parseInt(body.getAttribute("data-idle") || "0", 10);
  var warning = document.getElementById("idle-warning");
  if (idle > 0 && warning) {
    var last = Date.now();
    ["keydown", "mousedown", "touchstart"].forEach(function (name) {
      document.addEventListener(name, function () { last = Date.now(); warning.classList.remove("show"); });
    });
    setInterval(function () {
      var left = idle - (Date.now() - last) / 1000;
      if (left < 120) { warning.classList.add("show"); }
      if (left <= 0) { window.location = "/login?expired=1"; }
    }, 5000);
  }
  // Repeated groups: "add another" clones the last instance with the next index.
  document.querySelectorAll("button[data-repeat]").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.getAttribute("data-repeat");
      var groups = document.querySelectorAll("[data-key='" + key + "']");
      var last = groups[groups.length - 1], index = groups.length;
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.name = input.name.replace(key + ".0", key + "." + index);
        input.id = input.name; input.value = "";
      });
      copy.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      last.parentNode.insertBefore(copy, last.nextSibling);
    });
  });
  // The release queue: an attachment opened (in its own tab) shows as opened at once; the
  // server noted it, and refuses the release until every one was opened.
  document.querySelectorAll("a.attachment-link[data-opened]").forEach(function (link) {
    link.addEventListener("click", function () {
      var state = link.parentNode.querySelector(".attachment-state");
      if (state) { state.textContent = link.getAttribute("data-opened"); state.className = "badge ok attachment-state"; }
    });
  });
  // The notification count in the header, refreshed every 20 s without reloading the page
  // (served by this node; the session's idle clock is not touched by it).
  var counter = document.getElementById("notice-badge");
  if (counter && idle > 0) {
    setInterval(function () {
      fetch("/notices/count", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok && r.headers.get("content-type").indexOf("json") >= 0 ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          counter.textContent = String(data.unread);
          counter.className = "badge" + (data.urgent ? " bad" : (data.unread ? " warn" : ""));
          counter.parentNode.classList.toggle("urgent", data.urgent > 0);
        }).catch(function () {});
    }, 20000);
  }
  // Countdowns: a deadline shown with the time left, kept current without reloading.
  var clocks = document.querySelectorAll(".countdown[data-due]");
  function tick() {
    clocks.forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-due")) - Date.now()) / 60000);
      if (isNaN(left)) { return; }
      var sign = left < 0 ? "−" : "", abs = Math.abs(left);
      var text = sign + Math.floor(abs / 60) + " h " + (abs % 60) + " min";
      el.setAttribute("title", el.getAttribute("title") || el.textContent);
      el.textContent = el.getAttribute("title") + " (" + text + ")";
      el.classList.toggle("late", left < 0);
    });
  }
  if (clocks.length) { tick(); setInterval(tick, 30000); }
  // Hotline: Alt+N jumps to a new tip, Alt+S saves it.
  document.addEventListener("keydown", function (event) {
    if (!event.altKey) { return; }
    var target = { n: "narrative", s: "save-tip" }[event.key];
    var element = target && document.getElementById(target);
    if (element) { event.preventDefault(); element.focus(); if (target === "save-tip") { element.click(); } }
  });
})();
