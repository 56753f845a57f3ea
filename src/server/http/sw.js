// chinwag's service worker (served as /sw.js, after the two constants the server writes above:
// BUILD, this build's name, and ASSETS, its hashed client files). See src/server/http/worker.rs.
//
// - Install: this build's files and the offline page go into a cache of its own.
// - Activate: every other build's cache is dropped; open pages are taken over at once.
// - Fetch: only this build's hashed files (names that never change meaning) come from the cache.
//   Pages always come from the network (so a page is never older than the server, and the
//   version banner's rules hold); when the network is down, a navigation gets the offline page.
//   Nothing else is touched: /ws, /files, uploads, avatars and every API go straight through.
const CACHE = "chinwag-" + BUILD;
const OFFLINE = "/offline.html";
const PRECACHED = new Set(ASSETS);
// What the offline page itself needs: from the network when it answers, else from the cache.
const SPARE = new Set(["/pages.css", "/favicon.svg"]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...ASSETS, OFFLINE, ...SPARE]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("chinwag-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() =>
        caches.open(CACHE).then((cache) => cache.match(OFFLINE)).then((page) => page || Response.error()),
      ),
    );
    return;
  }
  if (SPARE.has(url.pathname)) {
    event.respondWith(
      fetch(request).catch(() => caches.open(CACHE).then((cache) => cache.match(url.pathname))),
    );
    return;
  }
  if (PRECACHED.has(url.pathname)) {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match(url.pathname))
        .then((hit) => hit || fetch(request)),
    );
  }
});
