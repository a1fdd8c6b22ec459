/* The public survey page: keeps partial answers as the customer goes, and guards the submit.
   The page works without it: the form posts normally and the server keeps what was typed. */
(function () {
  "use strict";

  var form = document.getElementById("survey-form");
  if (!form) {
    return;
  }
  var status = document.getElementById("save-status");
  var button = document.getElementById("submit");
  var buttonText = button ? button.textContent : "";
  var DELAY = 700; // ms after the last change: one save per pause, not one per keystroke
  var timer = null;
  var inFlight = false;
  var dirty = false;
  var submitting = false;

  // After a failed submit, take the customer (and a screen reader) to the list of problems.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  function formData() {
    var data = new FormData(form);
    data.set("partial", "1");
    return data;
  }

  function save() {
    timer = null;
    if (submitting || !window.fetch) {
      return;
    }
    if (inFlight) {
      dirty = true; // saved again once the current save lands, so the newest answers win
      return;
    }
    inFlight = true;
    dirty = false;
    fetch(form.action, {
      method: "POST",
      body: formData(),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (result) {
        if (result && result.saved && status && !submitting) {
          status.textContent = form.getAttribute("data-saved");
        }
      })
      .catch(function () {
        // Offline or navigating away: the submit (or the next change) stores everything anyway.
      })
      .then(function () {
        inFlight = false;
        if (dirty && !submitting) {
          save();
        }
      });
  }

  function schedule() {
    if (submitting) {
      return;
    }
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(save, DELAY);
  }

  // Leaving the page with a save still waiting: send it now; keepalive lets it outlive the page.
  function flush() {
    if (!timer || submitting || !window.fetch) {
      return;
    }
    clearTimeout(timer);
    timer = null;
    fetch(form.action, {
      method: "POST",
      body: formData(),
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-Requested-With": "fetch" },
    }).catch(function () {});
  }

  form.addEventListener("change", schedule);
  form.addEventListener("input", schedule);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush();
    }
  });
  window.addEventListener("pagehide", flush);

  // A double click sends the form once; the server refuses a second response anyway.
  form.addEventListener("submit", function (event) {
    if (submitting) {
      event.preventDefault();
      return;
    }
    submitting = true;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.textContent = form.getAttribute("data-sending");
    }
  });

  // Back to this page from the browser's cache: the form can be sent again (the server decides).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && button) {
      submitting = false;
      button.removeAttribute("aria-disabled");
      button.textContent = buttonText;
    }
  });
})();
