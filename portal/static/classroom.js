// Classroom conveniences only: the page works the same without this script.
// "Mark all present and done" puts every child of a group back to Done in one tap.
(function () {
  "use strict";
  document.querySelectorAll("form[data-group-log]").forEach(function (form) {
    var button = form.querySelector("[data-all-done]");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      form.querySelectorAll('input[type=radio][value="done"]').forEach(function (radio) {
        radio.checked = true;
      });
    });
  });
})();
