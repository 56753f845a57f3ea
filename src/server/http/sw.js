// chinwag's service worker (served as /sw.js, after the two constants the server writes above:
// BUILD, this build's name, and ASSETS, its hashed client files). See src/server/http/worker.rs.
//
// - Install: this build's files and the offline page go into a cache of its own.
// - Activate: every other build's cache is dropped; open pages are taken over at once.
// - Fetch: only this build's hashed files (names that never change meaning) come from the cache.
//   Pages always come from the network (so a page is never older than the server, and the
//   version banner's rules hold); when the network is down, a navigation gets the offline page.
//   Nothing else is touched: /ws, /files, uploads, avatars and every API go straight through.
// - Push: a push message's JSON ({title, body, tag, url}) is shown as a notification; a click on
//   it focuses an open chinwag tab on that conversation (or opens one). Only this site's paths.
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

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = { body: event.data.text() };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "chinwag", {
      body: data.body || "",
      tag: data.tag || "chinwag",
      icon: "/icon-192.png",
      data: { url: sitePath(data.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sitePath(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((tabs) => {
      const tab = tabs[0];
      if (!tab) return self.clients.openWindow(url);
      return tab
        .focus()
        .then((focused) => (focused || tab).navigate(url))
        .catch(() => self.clients.openWindow(url));
    }),
  );
});

/** An address of this site, or its front page for anything else (a push never sends a tab
 * elsewhere). */
function sitePath(url) {
  const home = new URL("/", self.location.origin).href;
  try {
    const parsed = new URL(url || "/", self.location.origin);
    return parsed.origin === self.location.origin ? parsed.href : home;
  } catch (_) {
    return home;
  }
}
