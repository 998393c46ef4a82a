// Drafts save as they go: a change to any field of a form marked data-autosave posts the
// form in the background, as its "Save draft" button would (same CSRF token, same checks
// on the server). Without scripts the button does the same job by hand.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var status = document.getElementById(form.getAttribute("data-autosave"));
  var timer = null;
  var inFlight = false;
  var again = false;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function save() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    var data = new FormData(form);
    data.set("action", "save");
    say("Saving…");
    // getAttribute: the form has buttons named "action", which shadow form.action.
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (response.ok) {
          say("Draft saved at " + new Date().toLocaleTimeString() + ".");
        } else {
          say("Not saved: check the scores, then use Save draft.");
        }
      })
      .catch(function () {
        say("Not saved: no connection. Your ratings stay on this page; use Save draft later.");
      })
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          save();
        }
      });
  }

  form.addEventListener("change", function (event) {
    if (!event.target.name || event.target.name === "csrf_token") {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 300);
  });
})();
