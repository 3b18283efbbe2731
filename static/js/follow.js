// The patient's token page follows its token the way the board does (static/js/poll.js), without htmx to keep the
// page small: it asks for its panel every 5 s with the ETag of the last answer, so an unchanged token costs a 304
// with no body. One request at a time: on a slow connection the next waits for the last to finish.
(function () {
  "use strict";
  const panel = document.querySelector("[data-follow]");
  if (!panel) return;
  const url = panel.dataset.follow;
  const every = 5000;
  let etag = panel.dataset.etag || "";  // the page came with the panel of this version
  function ask() {
    fetch(url, {cache: "no-store", credentials: "same-origin", headers: etag ? {"If-None-Match": etag} : {}})
      .then(function (response) {
        if (response.status !== 200) return null;
        etag = response.headers.get("ETag") || "";
        return response.text();
      })
      .then(function (html) { if (html !== null) panel.innerHTML = html; })
      .catch(function () {})  // offline for a moment: the next try shows the news
      .then(function () { window.setTimeout(ask, every); });
  }
  window.setTimeout(ask, every);
})();
