// Switchboard console: copy buttons and the live "first verified event"
// panel. Every page works without it.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.copy");
    if (!b) return;
    var src = document.getElementById(b.getAttribute("data-copy"));
    if (!src) return;
    var text = src.textContent;
    var done = function () { var t = b.textContent; b.textContent = "Copied"; setTimeout(function () { b.textContent = t; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var ta = document.createElement("textarea");
      ta.value = text; document.body.appendChild(ta); ta.select();
      try { document.execCommand("copy"); done(); } catch (err) {}
      document.body.removeChild(ta);
    }
  });
  var live = document.getElementById("live");
  if (live && live.getAttribute("data-poll")) {
    var url = live.getAttribute("data-poll");
    var every = parseInt(live.getAttribute("data-interval"), 10) || 2000;
    var text = document.getElementById("live-text");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { setTimeout(poll, every); return; }
          live.className = "live " + s.state;
          live.setAttribute("data-state", s.state);
          text.textContent = s.message;
          var last = document.getElementById("last-accepted");
          if (last && s.last) last.textContent = s.last;
          if (s.state !== "ok") setTimeout(poll, every);
        }, function () { setTimeout(poll, every); });
    };
    poll();
  }
})();
