/* MRN fields and the patient search box (seed 000).
 *
 * The rules come from the server (patients.mrn.client_formats, rendered with json_script as #mrn-formats), the
 * same definitions the server validates with, so browser and server never disagree:
 *   patterns the MRN formats of both schemes, the active one first, e.g. ^\d{3}-\d{2}-\d{3}$, ^PAT-\d{8}-\d{4}$
 *   legacy   the old format xx-xx-xxx: refused in MRN fields with the number it became (a zero in front); the
 *            search box lets it through (search converts it, as the API does)
 *   examples an MRN of each scheme, same order: whether a partly typed value can still become an MRN; typing
 *            as many digits as the active scheme's example has gets its dashes (and prefix) inserted, in the
 *            search box only when that example is digits and dashes (else a phone number could turn into one)
 *   legacy_message, invalid_message  the server's wording ({number}, {converted} filled in here)
 * Inputs opt in with data-mrn-field="strict" (an MRN and nothing else) or "search" (MRN, name, phone or CNIC).
 */
(function () {
  "use strict";
  var source = document.getElementById("mrn-formats");
  if (!source) return;
  var formats = JSON.parse(source.textContent);
  var patterns = formats.patterns.map(function (pattern) { return new RegExp(pattern); });
  var active = patterns[0];
  var legacy = new RegExp(formats.legacy);
  var example = formats.examples[0];
  var exampleDigits = example.replace(/\D/g, "").length;
  var groupInSearch = /^[\d-]+$/.test(example);

  function isMrn(value) {
    return patterns.some(function (pattern) { return pattern.test(value); });
  }

  function group(digits) {
    // The example with its digits replaced by `digits`: 00123456 -> 001-23-456 (202411030001 -> PAT-20241103-0001).
    var i = 0;
    return example.replace(/\d/g, function () { return digits[i++]; });
  }

  function couldBecomeMrn(value) {
    // A prefix of a valid MRN: completing it with the rest of an example matches that example's pattern.
    return patterns.some(function (pattern, i) {
      return pattern.test(value + formats.examples[i].slice(value.length));
    });
  }

  function problem(value, kind) {
    if (!value) return "";
    if (legacy.test(value)) {
      if (kind === "search") return "";  // search finds old numbers (the server converts them), as the API does
      // Converted as idseq.formats.convert_legacy does: a zero in front.
      return formats.legacy_message.replace("{number}", value).replace("{converted}", "0" + value);
    }
    if (kind === "strict") return isMrn(value) ? "" : formats.invalid_message;
    // Search: only digits-and-dashes that are no CNIC (12345-...) or phone (0300-...) must be (part of) an MRN.
    var mrnLike = /^\d[\d-]*$/.test(value) && value.indexOf("-") >= 0 && !/^\d{4,5}-/.test(value);
    return mrnLike && !couldBecomeMrn(value) ? value + " is not an MRN; write it as e.g. " + example + "." : "";
  }

  function reformat(input) {
    var value = input.value.trim();
    if (!/^[\d-]+$/.test(value) || (input.dataset.mrnField === "search" && !groupInSearch)) return;
    var digits = value.replace(/-/g, "");
    if (digits.length === exampleDigits && (value === digits || couldBecomeMrn(value))) {
      input.value = group(digits);
    } else if (input.dataset.mrnField === "search" && digits.length > exampleDigits && active.test(value.slice(0, example.length))) {
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
