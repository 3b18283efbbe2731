/* Desk keyboard flow, for every page:
 * - a button or link with data-key="n" is pressed by that key (no modifier, not while typing in a field), found by
 *   the key's position (event.code "KeyN"), so it works in any keyboard layout: with an Urdu layout the same key
 *   types "ن" and still calls next;
 * - a form with data-confirm="question" asks before it is sent (cancel, no-show);
 * - after a failed submit (an .error-summary on the page) the first field in error gets the focus;
 * - in a form with data-enter-next, Enter in a field moves to the next field (an Enter after the name must not
 *   register a half-typed patient and use up an MRN), passing over check boxes and radio buttons (Tab reaches
 *   them); Enter in the last field or on a button, or Ctrl+Enter anywhere, submits. Enter in a textarea is a new
 *   line.
 */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var key = /^Key[A-Z]$/.test(event.code) ? event.code.slice(3).toLowerCase() : event.key.toLowerCase();
    var button = document.querySelector('[data-key="' + CSS.escape(key) + '"]:not([disabled])');
    if (button) { event.preventDefault(); button.click(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing) return;
    var field = event.target;
    var form = field.form;
    if (!form || !form.hasAttribute("data-enter-next") || field.tagName === "BUTTON" || field.type === "submit") return;
    if (event.ctrlKey || event.metaKey) { event.preventDefault(); form.requestSubmit(); return; }
    if (field.tagName === "TEXTAREA") return;
    var fields = Array.prototype.filter.call(form.elements, function (el) {
      return !el.disabled && el.type !== "hidden" && el.tagName !== "FIELDSET" && el.tagName !== "BUTTON"
        && el.type !== "submit" && el.offsetParent !== null && (el === field || !/^(checkbox|radio)$/.test(el.type));
    });
    var next = fields[fields.indexOf(field) + 1];
    if (!next) return;  // the last field: Enter submits
    event.preventDefault();
    next.focus();
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
