/* The feedback app's public pages. Both work without it; it adds:
   - the web form: the browser's time zone (so the status page shows the customer's own times),
     the list of problems focused after a failed send, and one send per click;
   - the status page: the "thank you" notice's ?sent=1 dropped from the address, so a bookmark
     keeps the plain link to the request. */
(function () {
  "use strict";

  var form = document.getElementById("feedback-form");
  if (form) {
    var zone = document.getElementById("id_time_zone");
    if (zone && !zone.value && window.Intl && Intl.DateTimeFormat) {
      try {
        zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      } catch (error) {
        // An old browser without time zone support: the calendar's zone is used instead.
      }
    }

    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }

    var button = document.getElementById("submit");
    var buttonText = button ? button.textContent : "";
    var submitting = false;
    form.addEventListener("submit", function (event) {
      if (submitting) {
        event.preventDefault();
        return;
      }
      submitting = true;
      if (button) {
        button.setAttribute("aria-disabled", "true");
        button.textContent = form.getAttribute("data-sending");
      }
    });
    // Back to the form from the browser's cache: it can be sent again.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && button) {
        submitting = false;
        button.removeAttribute("aria-disabled");
        button.textContent = buttonText;
      }
    });
  }

  if (document.getElementById("sent-notice") && window.history && history.replaceState) {
    var address = new URL(window.location.href);
    address.searchParams.delete("sent");
    history.replaceState(null, "", address.pathname + address.search + address.hash);
  }
})();
