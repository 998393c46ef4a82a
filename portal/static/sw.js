// Cadence's service worker: Today opens without a connection.
//
// Served at /o/<org slug>/sw.js, so its scope is that organisation's pages. The Today and
// week pages are network-first (a fresh page whenever the server answers; the last copy
// when it does not); static files are served from the cache and refreshed behind it.
// Logs are not its business: today.js queues them in IndexedDB and sends them itself.
// It also shows Web Push reminders (push.js subscribes; tasks/channels/push.py sends
// {title, body, url}) and opens the page a reminder links to when it is tapped.
"use strict";

var CACHE = "cadence-today-v2";
var STATIC = ["/static/cadence.css", "/static/home.css", "/static/summaries.css", "/static/today.js", "/static/favicon.svg"];
var SCOPE = new URL(self.registration.scope);
var TODAY = SCOPE.pathname + "today";
var SLOW_MS = 6000;

function isToday(url) {
  return url.origin === SCOPE.origin && url.pathname.indexOf(TODAY) === 0;
}

// Only a real page is kept: not the sign-in page a redirect leads to, not an error.
function isPage(response) {
  var type = response.headers.get("Content-Type") || "";
  return response.ok && response.type === "basic" && !response.redirected && type.indexOf("text/html") === 0;
}

function keepPage(cache, url) {
  return fetch(url, { credentials: "same-origin", redirect: "manual" })
    .then(function (response) {
      return isPage(response) ? cache.put(url, response) : null;
    })
    .catch(function () {
      return null;
    });
}

// The session is gone (the server sent the page to sign-in): copies of pages about
// children must not outlive it on the device.
function forgetPages(cache) {
  return cache.keys().then(function (requests) {
    return Promise.all(
      requests
        .filter(function (request) {
          return isToday(new URL(request.url));
        })
        .map(function (request) {
          return cache.delete(request);
        })
    );
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches
      .open(CACHE)
      .then(function (cache) {
        return cache
          .addAll(STATIC)
          .catch(function () {
            return null;
          })
          .then(function () {
            return keepPage(cache, TODAY);
          });
      })
      .then(function () {
        return self.skipWaiting();
      })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (names) {
        return Promise.all(
          names
            .filter(function (name) {
              return name.indexOf("cadence-today") === 0 && name !== CACHE;
            })
            .map(function (name) {
              return caches.delete(name);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

// today.js asks for the page it shows (say, another day's) to be kept too.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "cache-page" || typeof data.url !== "string") {
    return;
  }
  var url = new URL(data.url);
  if (!isToday(url)) {
    return;
  }
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return keepPage(cache, url.href);
    })
  );
});

function offlinePage() {
  var body =
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>Offline · Cadence</title><link rel="stylesheet" href="/static/cadence.css"></head>' +
    '<body><main class="container"><section class="card narrow"><h1>You are offline</h1>' +
    "<p>This page has not been opened on this device while online, so there is no copy " +
    'to show. Open <a href="' + TODAY + '">Today</a> instead, or try again when you are back online.</p>' +
    "</section></main></body></html>";
  return new Response(body, {
    status: 503,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
  });
}

function kept(cache, request) {
  var url = new URL(request.url);
  return cache.match(request.url, { ignoreVary: true }).then(function (hit) {
    if (hit) {
      return hit;
    }
    if (url.pathname === TODAY) {
      // Another day's page was never kept: today's copy shows its own date.
      return cache.match(SCOPE.origin + TODAY, { ignoreVary: true }).then(function (today) {
        return today || offlinePage();
      });
    }
    return offlinePage();
  });
}

// Network first; the kept copy when there is no network, or when the network is so slow
// (a phone with one bar) that the copy is better than waiting. The fresh page still
// replaces the copy when it arrives.
function page(event) {
  var request = event.request;
  return caches.open(CACHE).then(function (cache) {
    var network = fetch(request).then(function (response) {
      if (isPage(response)) {
        return cache.put(request.url, response.clone()).then(function () {
          return response;
        });
      }
      if (response.type === "opaqueredirect" || response.redirected) {
        return forgetPages(cache).then(function () {
          return response;
        });
      }
      return response;
    });
    event.waitUntil(network.catch(function () {}));
    return new Promise(function (resolve) {
      var settled = false;
      function settle(response) {
        if (!settled) {
          settled = true;
          resolve(response);
        }
      }
      network.then(settle, function () {
        kept(cache, request).then(settle);
      });
      setTimeout(function () {
        cache.match(request.url, { ignoreVary: true }).then(function (hit) {
          if (hit) {
            settle(hit);
          }
        });
      }, SLOW_MS);
    });
  });
}

function staticFile(event) {
  var request = event.request;
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var refresh = fetch(request)
        .then(function (response) {
          if (response.ok) {
            cache.put(request, response.clone());
          }
          return response;
        })
        .catch(function () {
          return null;
        });
      if (hit) {
        event.waitUntil(refresh);
        return hit;
      }
      return refresh.then(function (response) {
        return response || Response.error();
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== SCOPE.origin) {
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFile(event));
  } else if (request.mode === "navigate" && isToday(url)) {
    event.respondWith(page(event));
  }
});

// --- Web Push ---------------------------------------------------------------------------

// The page a notification opens: always on this origin, whatever host the server put in
// the link (a link made for another address of the same Cadence must not leave the one the
// person uses).
function notificationTarget(link) {
  try {
    var url = new URL(link, SCOPE.href);
    if (url.protocol === "http:" || url.protocol === "https:") {
      return SCOPE.origin + url.pathname + url.search + url.hash;
    }
  } catch (error) {
    // fall through to the organisation's home page
  }
  return SCOPE.href;
}

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try {
      data = event.data.json() || {};
    } catch (error) {
      data = { body: event.data.text() };
    }
  }
  var title = typeof data.title === "string" && data.title ? data.title : "Cadence";
  // A push must always show something (browsers revoke push from sites that stay silent).
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof data.body === "string" ? data.body : "",
      icon: "/static/favicon.svg",
      lang: "en-GB",
      data: { url: notificationTarget(typeof data.url === "string" ? data.url : "") },
    })
  );
});

function withoutHash(href) {
  var url = new URL(href);
  return url.origin + url.pathname + url.search;
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || SCOPE.href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      var open = windows.filter(function (client) {
        return withoutHash(client.url) === withoutHash(target);
      })[0];
      if (open) {
        // The page is already open (Today, say): bring it forward, at the routine's row.
        var focused = open.focus();
        return open.url === target || !open.navigate
          ? focused
          : focused
              .then(function (client) {
                return (client || open).navigate(target);
              })
              .catch(function () {
                return null; // a page this worker does not control cannot be navigated
              });
      }
      return self.clients.openWindow(target);
    })
  );
});
