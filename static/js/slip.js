/* Registration slip: opened with ?print=1 (one click from the registration page), print right away. */
if (document.body.hasAttribute("data-autoprint")) window.addEventListener("load", function () { window.print(); });
