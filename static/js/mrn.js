/* MRN fields and the patient search box (seed 000, issue #5).
 *
 * The rules come from the server (patients.mrn.client_formats, rendered with json_script as #mrn-formats), the
 * same definitions the server validates with, so browser and server never disagree:
 *   pattern  the current MRN format, e.g. ^\d{3}-\d{2}-\d{3}$
 *   legacy   the old format xx-xx-xxx, refused with the number it became (a zero in front)
 *   digits   how many digits an MRN has; typing that many digits gets the dashes inserted
 *   example  a valid MRN, also used to tell whether a partly typed value can still become one
 *   legacy_message, invalid_message  the server's wording ({number}, {converted} filled in here)
 * Inputs opt in with data-mrn-field="strict" (an MRN and nothing else) or "search" (MRN, name, phone or CNIC).
 */
(function () {
  "use strict";
  var source = document.getElementById("mrn-formats");
  if (!source) return;
  var formats = JSON.parse(source.textContent);
  var full = new RegExp(formats.pattern);
  var legacy = new RegExp(formats.legacy);
  var dashPositions = [];
  for (var i = 0; i < formats.example.length; i++) if (formats.example[i] === "-") dashPositions.push(i);

  function group(digits) {
    // Insert the example's dashes into `digits` (8 digits -> 001-23-456).
    var out = digits.split("");
    dashPositions.forEach(function (at) { out.splice(at, 0, "-"); });
    return out.join("");
  }

  function couldBecomeMrn(value) {
    // A prefix of a valid MRN: completing it with the rest of the example matches the pattern.
    return full.test(value + formats.example.slice(value.length));
  }

  function problem(value, kind) {
    if (!value) return "";
    if (legacy.test(value)) {
      // Converted as idseq.formats.convert_legacy does: a zero in front.
      return formats.legacy_message.replace("{number}", value).replace("{converted}", "0" + value);
    }
    if (kind === "strict") return full.test(value) ? "" : formats.invalid_message;
    // Search: only digits-and-dashes that are no CNIC (12345-...) or phone (0300-...) must be (part of) an MRN.
    var mrnLike = /^\d[\d-]*$/.test(value) && value.indexOf("-") >= 0 && !/^\d{4,5}-/.test(value);
    return mrnLike && !couldBecomeMrn(value) ? value + " is not an MRN; write it as e.g. " + formats.example + "." : "";
  }

  function reformat(input) {
    var value = input.value.trim();
    if (!/^[\d-]+$/.test(value)) return;
    var digits = value.replace(/-/g, "");
    if (digits.length === formats.digits && (value === digits || couldBecomeMrn(value))) {
      input.value = group(digits);
    } else if (input.dataset.mrnField === "search" && digits.length > formats.digits && full.test(value.slice(0, formats.example.length))) {
      input.value = digits; // more digits after an MRN we grouped: a phone or CNIC, give the digits back
    }
  }

  function check(input) {
    var message = problem(input.value.trim(), input.dataset.mrnField);
    input.setCustomValidity(message);
    var note = input.parentNode.querySelector(".mrn-error");
    if (!note) {
      note = document.createElement("span");
      note.className = "mrn-error errorlist";
      note.setAttribute("role", "alert");
      input.insertAdjacentElement("afterend", note);
    }
    note.textContent = message;
    return !message;
  }

  document.querySelectorAll("[data-mrn-field]").forEach(function (input) {
    input.addEventListener("input", function () { reformat(input); check(input); });
    if (input.form) {
      input.form.addEventListener("submit", function (event) {
        if (!check(input)) { event.preventDefault(); input.focus(); }
      });
    }
  });
})();
