/* Desk keyboard flow, for every page:
 * - a button or link with data-key="n" is pressed by that key (no modifier, not while typing in a field);
 * - a form with data-confirm="question" asks before it is sent (cancel, no-show);
 * - after a failed submit (an .error-summary on the page) the first field in error gets the focus.
 */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var key = event.key.toLowerCase();
    var button = document.querySelector('[data-key="' + CSS.escape(key) + '"]:not([disabled])');
    if (button) { event.preventDefault(); button.click(); }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
  var summary = document.querySelector(".error-summary");
  if (summary) {
    var bad = document.querySelector(".has-error input, .has-error select, .has-error textarea");
    (bad || summary).focus();
  }
})();
