// Pages that refresh themselves (the waiting-room board, the doctor's room): htmx asks for the page every few
// seconds (`hx-trigger="every 2s"`). This script sends the ETag of the last answer for that URL, so an unchanged page
// costs a 304 with no body, and keeps what is shown on a 304.
(function () {
  "use strict";
  const etags = {};  // request path -> ETag of its last 200
  document.addEventListener("htmx:configRequest", function (event) {
    const etag = etags[event.detail.path];
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status === 304) {
      event.detail.shouldSwap = false;
    } else if (xhr.status === 200 && xhr.getResponseHeader("ETag")) {
      etags[event.detail.requestConfig.path] = xhr.getResponseHeader("ETag");
    }
  });
})();
