/* Tokenline's offline page service worker (terminals/views.py service_worker), scope /offline/.
 * Keeps the page's static files (script, styles, Nastaliq font, slip layout) at install; pages under the scope are
 * fetched from the network while it answers and kept, and served from the cache when it does not (a reload with
 * the network gone). API calls are never answered from the cache: the page must know when it is offline. */
"use strict";
var CACHE = "tokenline-offline-{{ version }}";
var FILES = [{% for file in files %}"{{ file|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(FILES); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("tokenline-offline-") === 0 && name !== CACHE;
    }).map(function (name) {
      // The pages kept under the old version move to the new cache: an update must not strand an offline desk.
      return caches.open(name).then(function (old) {
        return old.keys().then(function (requests) {
          return Promise.all(requests.filter(function (request) { return request.mode === "navigate" ||
            new URL(request.url).pathname.indexOf("/offline/") === 0; }).map(function (request) {
            return old.match(request).then(function (response) {
              return caches.open(CACHE).then(function (cache) { return cache.put(request, response); });
            });
          }));
        });
      }).then(function () { return caches.delete(name); });
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (request.mode === "navigate" || url.pathname.indexOf("/offline/") === 0) {
    // The page: the network's answer when there is one (kept for next time), else the one kept.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
    }));
    return;
  }
  event.respondWith(caches.match(request).then(function (kept) { return kept || fetch(request); }));
});
