// Token slips on an 80 mm receipt roll: the page is as long as the slip, so the printer cuts after the content.
// CSS cannot say "80 mm wide, as long as the content" (`size: 80mm auto` is not valid and printed on Letter), so this
// script lays the slip out with the print styles (receipt.css, media="print", switched on for a moment), measures
// it, and writes `@page { size: 80mm <height>mm }`. Without it the page is receipt.css's 150 mm.
(function () {
  "use strict";
  function fit() {
    const link = document.querySelector("link[data-receipt]");
    const slip = document.querySelector(".slip");
    if (!link || !slip) return;
    link.media = "all";
    const px = slip.getBoundingClientRect().height;
    link.media = "print";
    const mm = Math.ceil(px * 25.4 / 96) + 2;  // CSS pixels are 1/96 inch; 2 mm for the printer's tear-off margin
    let style = document.getElementById("receipt-page");
    if (!style) {
      style = document.createElement("style");
      style.id = "receipt-page";
      document.head.appendChild(style);
    }
    style.textContent = "@page { size: 80mm " + mm + "mm; margin: 0; }";
    document.body.dataset.pageHeightMm = String(mm);  // for tests and debugging
  }
  window.addEventListener("load", fit);
  window.addEventListener("beforeprint", fit);
})();
