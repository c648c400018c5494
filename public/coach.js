// The app's own script (loaded by .chainlit/config.toml, custom_js).
//
// On a phone (under 768 px) Chainlit shows the side panel as a modal sheet over
// the whole chat, and opens it again at every mood update, taking the input's
// focus. There the mood is shown as a small badge under the header instead
// (tap it for the reason), and the sheet is closed as soon as it opens
// (public/coach.css keeps it from being seen meanwhile). The badge copies what
// public/elements/MoodMeter.jsx writes on #mood-meter's data attributes.
(function () {
  "use strict";
  var phone = window.matchMedia("(max-width: 767px)");

  function badge() {
    var found = document.getElementById("mood-badge");
    if (found) return found;
    var made = document.createElement("div");
    made.id = "mood-badge";
    made.setAttribute("role", "status");
    made.addEventListener("click", function () {
      made.dataset.open = made.dataset.open === "true" ? "false" : "true";
      render(made);
    });
    document.body.appendChild(made);
    return made;
  }

  function render(node) {
    var text = node.dataset.summary || "";
    if (node.dataset.open === "true" && node.dataset.note) text += " — " + node.dataset.note;
    node.textContent = text;
  }

  function sync() {
    if (!phone.matches) return;
    var meter = document.querySelector('[role="dialog"] #mood-meter');
    if (!meter) return;
    var node = badge();
    var d = meter.dataset;
    var title = document.getElementById("side-view-title");
    node.dataset.mood = d.mood || "";
    node.dataset.pending = d.pending || "false";
    node.dataset.note = d.note || "";
    node.dataset.summary =
      (title ? title.textContent + " " : "") + d.mood + "/" + d.max + " · " + (d.label || "");
    node.style.background = d.colour || "#57606a";
    render(node);
    var dialog = meter.closest('[role="dialog"]');
    if (dialog) {
      dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    }
  }

  function start() {
    new MutationObserver(sync).observe(document.body, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["data-mood", "data-pending"],
    });
    sync();
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
