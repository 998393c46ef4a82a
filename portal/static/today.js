// Today, with or without a connection.
//
// Every log button is an ordinary form that posts to the server (that is how it works
// without scripts). With this script, a log is first written to a queue in IndexedDB with
// a UUID made on the device, the row shows "Waiting to send", and the queue is sent to
// the JSON API (POST /api/v1/logs) with a device token, now if there is a connection, else
// when it returns (the "online" event, every 30 seconds, each time the page opens). The
// server stores each UUID once, so sending a batch twice is harmless.
//
// The device token (not the session cookie) is what sends the queue: sessions end after
// minutes or hours, a token after 90 days, so logs held on the phone for days still arrive.
// A service worker (sw.js) keeps a copy of this page so it opens without a connection.
(function () {
  "use strict";

  var root = document.getElementById("today");
  if (!root || !window.fetch || !window.indexedDB || !window.Promise) {
    return;
  }
  var owner = root.getAttribute("data-owner"); // "<org slug>:<membership id>"
  var tokenUrl = root.getAttribute("data-token-url");
  var apiUrl = root.getAttribute("data-api-url");
  var banner = document.getElementById("sync-banner");
  var offlineNote = document.getElementById("offline-note");
  var BATCH = 100;
  var RETRY_MS = 30000;
  var LABELS = { done: "Done", partly: "Partly", skipped: "Skipped" };
  var sending = false;
  var again = false;
  var sentHere = 0;
  var problem = null;

  // --- IndexedDB -------------------------------------------------------------------------

  var dbPromise = null;

  function openDb() {
    if (dbPromise) {
      return dbPromise;
    }
    dbPromise = new Promise(function (resolve, reject) {
      var request = indexedDB.open("cadence-today", 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        db.createObjectStore("tokens", { keyPath: "owner" });
        var queue = db.createObjectStore("queue", { keyPath: "client_uuid" });
        queue.createIndex("owner", "owner");
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
    return dbPromise;
  }

  // Run `work(store)` in one transaction; resolves with its request's result on commit.
  function inStore(name, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var request = work(tx.objectStore(name));
        tx.oncomplete = function () {
          resolve(request ? request.result : undefined);
        };
        tx.onerror = function () {
          reject(tx.error);
        };
        tx.onabort = function () {
          reject(tx.error);
        };
      });
    });
  }

  function queued() {
    return inStore("queue", "readonly", function (store) {
      return store.index("owner").getAll(owner);
    }).then(function (items) {
      return (items || []).sort(function (a, b) {
        return a.queued_at - b.queued_at;
      });
    });
  }

  function enqueue(item) {
    return inStore("queue", "readwrite", function (store) {
      return store.put(item);
    });
  }

  function dequeue(uuids) {
    return inStore("queue", "readwrite", function (store) {
      uuids.forEach(function (id) {
        store.delete(id);
      });
      return null;
    });
  }

  function storedToken() {
    return inStore("tokens", "readonly", function (store) {
      return store.get(owner);
    });
  }

  function keepToken(record) {
    return inStore("tokens", "readwrite", function (store) {
      return store.put(record);
    });
  }

  function dropToken() {
    return inStore("tokens", "readwrite", function (store) {
      return store.delete(owner);
    });
  }

  // --- the device token ------------------------------------------------------------------

  function requestToken(csrf) {
    return fetch(tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).catch(function () {
      return null;
    });
  }

  // A CSRF token from a fresh copy of this page (the one on a page left open for hours has
  // expired); null when the session is gone.
  function freshCsrf() {
    return fetch(window.location.pathname, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          return null;
        }
        return response.text().then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("today");
          var csrf = fresh ? fresh.getAttribute("data-csrf") : null;
          if (csrf) {
            root.setAttribute("data-csrf", csrf);
          }
          return csrf;
        });
      })
      .catch(function () {
        return null;
      });
  }

  function isJson(response) {
    var type = response.headers.get("Content-Type") || "";
    return response.ok && !response.redirected && type.indexOf("application/json") === 0;
  }

  function ensureToken(renew) {
    return storedToken().then(function (record) {
      if (record && record.token && !renew) {
        return record.token;
      }
      if (!navigator.onLine) {
        return null;
      }
      return requestToken(root.getAttribute("data-csrf"))
        .then(function (response) {
          if (response && response.status === 400) {
            return freshCsrf().then(function (csrf) {
              return csrf ? requestToken(csrf) : null;
            });
          }
          return response;
        })
        .then(function (response) {
          if (!response) {
            return null;
          }
          if (!isJson(response)) {
            if (response.redirected || response.status === 401) {
              problem = "Sign in again to send the logs waiting on this device.";
            }
            return null;
          }
          return response.json().then(function (body) {
            return keepToken({ owner: owner, token: body.token, expires_at: body.expires_at }).then(
              function () {
                return body.token;
              }
            );
          });
        });
    });
  }

  // --- the page --------------------------------------------------------------------------

  function rowOf(occurrenceId) {
    return document.getElementById("occ-" + occurrenceId);
  }

  function say(row, text, kind) {
    if (!row) {
      return;
    }
    var line = row.querySelector("[data-sync]");
    line.textContent = text;
    line.className = "occ-sync" + (kind ? " is-" + kind : "");
    row.classList.remove("is-waiting", "is-sent", "is-refused");
    if (kind) {
      row.classList.add("is-" + kind);
    }
  }

  function badge(row, status) {
    var el = row && row.querySelector("[data-status]");
    if (el && LABELS[status]) {
      el.textContent = LABELS[status];
      el.className = "occ-status badge badge-" + status;
    }
  }

  function markWaiting(item) {
    var row = rowOf(item.occurrence_id);
    badge(row, item.status);
    say(row, "Waiting to send", "waiting");
  }

  function markSent(item, result) {
    var row = rowOf(item.occurrence_id);
    badge(row, (result.log && result.log.status) || item.status);
    say(row, "Sent", "sent");
  }

  function markRefused(item, result) {
    var row = rowOf(item.occurrence_id);
    var message = (result.error && result.error.message) || "The log was not accepted.";
    if (result.status === 409 && result.log) {
      // Someone logged it first: show theirs; nothing left to do here.
      badge(row, result.log.status);
      say(row, message, "sent");
      return;
    }
    var status = row && row.querySelector("[data-status]");
    if (status) {
      status.textContent = "To do";
      status.className = "occ-status badge badge-pending";
    }
    say(row, "Not saved: " + message, "refused");
  }

  function showBanner() {
    offlineNote.hidden = navigator.onLine;
    return queued()
      .then(function (items) {
        var count = items.length;
        if (count > 0) {
          banner.textContent =
            count + (count === 1 ? " log" : " logs") + " waiting to send" +
            (problem ? ". " + problem : navigator.onLine ? "" : ": they will be sent when you are back online.");
          banner.className = "notice notice-warning sync-banner";
          banner.hidden = false;
        } else if (sentHere > 0) {
          banner.textContent = "All logs sent";
          banner.className = "notice sync-banner is-clear";
          banner.hidden = false;
        } else {
          banner.hidden = true;
        }
      })
      .catch(function () {});
  }

  // --- sending ---------------------------------------------------------------------------

  // One batch; resolves with how many items were settled, or a reason to stop.
  function send(batch, token) {
    var wire = batch.map(function (item) {
      return {
        client_uuid: item.client_uuid,
        occurrence_id: item.occurrence_id,
        status: item.status,
        reason: item.reason,
        minutes: item.minutes,
        state_before: item.state_before,
        state_after: item.state_after,
        enjoyment: item.enjoyment,
        note: item.note,
        logged_at: item.logged_at,
      };
    });
    return fetch(apiUrl, {
      method: "POST",
      credentials: "omit",
      headers: {
        Authorization: "Bearer " + token,
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: JSON.stringify({ logs: wire }),
    }).then(
      function (response) {
        if (response.status === 401) {
          return "token";
        }
        if (response.status >= 500 || !isJson(response)) {
          return "later"; // the server is unwell or not there yet: keep everything
        }
        return response.json().then(function (body) {
          var settled = [];
          var byUuid = {};
          batch.forEach(function (item) {
            byUuid[item.client_uuid] = item;
          });
          (body.results || []).forEach(function (result) {
            var item = byUuid[result.client_uuid];
            if (!item || result.status >= 500) {
              return;
            }
            settled.push(item.client_uuid);
            if (result.status < 300) {
              markSent(item, result);
            } else {
              markRefused(item, result);
            }
          });
          sentHere += settled.length;
          return dequeue(settled).then(function () {
            return settled.length;
          });
        });
      },
      function () {
        return "later"; // no connection
      }
    );
  }

  function flush() {
    if (sending) {
      again = true;
      return Promise.resolve();
    }
    sending = true;
    var renewed = false;

    function round() {
      return queued().then(function (items) {
        if (!items.length || !navigator.onLine) {
          return null;
        }
        return ensureToken(false).then(function (token) {
          if (!token) {
            return null;
          }
          return send(items.slice(0, BATCH), token).then(function (outcome) {
            if (outcome === "token" && !renewed) {
              renewed = true; // revoked or expired: one new token per attempt
              return dropToken().then(function () {
                return ensureToken(true).then(function (fresh) {
                  return fresh ? round() : null;
                });
              });
            }
            if (typeof outcome === "number" && outcome > 0) {
              problem = null;
              return round();
            }
            return null;
          });
        });
      });
    }

    return round()
      .catch(function () {})
      .then(function () {
        sending = false;
        return showBanner();
      })
      .then(function () {
        if (again) {
          again = false;
          return flush();
        }
        return null;
      });
  }

  // --- logging ---------------------------------------------------------------------------

  function newUuid() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function text(data, name) {
    var value = data.get(name);
    value = value === null ? "" : String(value).trim();
    return value || null;
  }

  function whole(data, name) {
    var value = text(data, name);
    return value === null ? null : Number(value);
  }

  function refuseHere(row, message) {
    say(row, message, "refused");
  }

  function submitNatively(form, submitter) {
    form.setAttribute("data-native", "1");
    if (form.requestSubmit) {
      form.requestSubmit(submitter || undefined);
    } else {
      form.submit();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-log-form]") || form.hasAttribute("data-native")) {
      return;
    }
    event.preventDefault();
    var submitter = event.submitter || null;
    var status = (submitter && submitter.value) || "done";
    var data = new FormData(form);
    var row = form.closest(".occurrence");
    var item = {
      client_uuid: newUuid(),
      owner: owner,
      occurrence_id: Number(data.get("occurrence_id")),
      status: status,
      // A reason belongs to partly or skipped; the Done button ignores a chosen one.
      reason: status === "done" ? null : text(data, "reason"),
      minutes: whole(data, "minutes"),
      state_before: text(data, "state_before"),
      state_after: text(data, "state_after"),
      enjoyment: whole(data, "enjoyment"),
      note: text(data, "note"),
      logged_at: new Date().toISOString(),
      queued_at: Date.now(),
    };
    if (status === "skipped" && !item.reason) {
      refuseHere(row, "Say why it was skipped: child unwell, refused, no time or other.");
      var first = form.querySelector('input[name="reason"]');
      if (first) {
        first.focus();
      }
      return;
    }
    if (item.minutes !== null && !(item.minutes >= 0 && item.minutes <= 240 && item.minutes % 1 === 0)) {
      refuseHere(row, "Give the minutes as a whole number from 0 to 240.");
      return;
    }
    enqueue(item).then(
      function () {
        markWaiting(item);
        return showBanner().then(flush);
      },
      function () {
        submitNatively(form, submitter); // no IndexedDB here (private mode): post the form
      }
    );
  });

  // Signing out on a shared phone: drop the page copies and the device token. Logs not yet
  // sent stay queued and go next time this person opens Today.
  var signOut = document.querySelector('form[action$="/auth/sign-out"]');
  if (signOut) {
    signOut.addEventListener("submit", function (event) {
      if (signOut.hasAttribute("data-cleared")) {
        return;
      }
      event.preventDefault();
      queued()
        .then(function (items) {
          if (
            items.length &&
            !window.confirm(
              items.length + " logs are not sent yet. They stay on this device and are sent " +
                "next time you open Today. Sign out anyway?"
            )
          ) {
            return false;
          }
          var clearing = [dropToken()];
          if (window.caches) {
            clearing.push(
              caches.keys().then(function (names) {
                return Promise.all(
                  names
                    .filter(function (n) {
                      return n.indexOf("cadence-today") === 0;
                    })
                    .map(function (n) {
                      return caches.delete(n);
                    })
                );
              })
            );
          }
          return Promise.all(clearing).then(function () {
            return true;
          });
        })
        .catch(function () {
          return true;
        })
        .then(function (go) {
          if (go) {
            signOut.setAttribute("data-cleared", "1");
            signOut.submit();
          }
        });
    });
  }

  // --- start -----------------------------------------------------------------------------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker
      .register(root.getAttribute("data-sw-url"), { scope: root.getAttribute("data-sw-scope") })
      .then(function () {
        return navigator.serviceWorker.ready;
      })
      .then(function (registration) {
        if (registration.active) {
          registration.active.postMessage({ type: "cache-page", url: window.location.href });
        }
      })
      .catch(function () {});
  }

  window.addEventListener("online", function () {
    problem = null;
    flush();
  });
  window.addEventListener("offline", showBanner);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      flush();
    }
  });
  window.setInterval(flush, RETRY_MS);

  queued()
    .then(function (items) {
      items.forEach(markWaiting);
    })
    .catch(function () {})
    .then(showBanner)
    .then(function () {
      return ensureToken(false);
    })
    .catch(function () {})
    .then(flush);
})();
