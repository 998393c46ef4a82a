// Push notifications on this device: the "Turn on" and "Turn off" buttons of the reminder
// settings page.
//
// Turning on registers the service worker (the same sw.js and scope as Today, so one worker
// both keeps Today offline and shows pushes), asks for permission to show notifications,
// subscribes with the server's VAPID public key and posts the subscription to the server
// (cookie session + X-CSRFToken). Turning off forgets it on the server and in the browser.
//
// The page lists SHA-256 digests of the endpoints stored for this person, so the script can
// tell "on for you here" from "on in this browser for someone else" (a shared tablet) without
// the endpoints themselves being in the page.
(function () {
  "use strict";

  var root = document.getElementById("push");
  if (!root || !root.getAttribute("data-vapid-key")) {
    return; // push is not set up on this server: the page says so
  }
  var state = root.querySelector("[data-push-state]");
  var count = root.querySelector("[data-push-count]");
  var onBox = root.querySelector("[data-push-on]");
  var offBox = root.querySelector("[data-push-off]");
  var onButton = onBox.querySelector("button");
  var offButton = offBox.querySelector("button");
  // A browser that cannot reach its push service may never answer subscribe().
  var SUBSCRIBE_TIMEOUT_MS = 30000;

  function say(text) {
    state.textContent = text;
  }

  function show(on, off) {
    onBox.hidden = !on;
    offBox.hidden = !off;
    onButton.disabled = false;
    offButton.disabled = false;
  }

  function busy(text) {
    onButton.disabled = true;
    offButton.disabled = true;
    say(text);
  }

  var supported =
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window &&
    window.crypto &&
    window.crypto.subtle &&
    window.fetch;
  if (!supported) {
    say(
      window.isSecureContext === false
        ? "Push needs a secure (https) connection to Cadence."
        : "This browser cannot receive push notifications. Choose another way of being reminded."
    );
    show(false, false);
    return;
  }

  function urlBase64ToUint8Array(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  var serverKey = urlBase64ToUint8Array(root.getAttribute("data-vapid-key"));

  function sameBytes(buffer, bytes) {
    if (!buffer) {
      return false;
    }
    var view = new Uint8Array(buffer);
    if (view.length !== bytes.length) {
      return false;
    }
    for (var i = 0; i < view.length; i += 1) {
      if (view[i] !== bytes[i]) {
        return false;
      }
    }
    return true;
  }

  function digest(text) {
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (hash) {
      return Array.prototype.map
        .call(new Uint8Array(hash), function (b) {
          return ("0" + b.toString(16)).slice(-2);
        })
        .join("");
    });
  }

  function isMine(subscription) {
    var mine = (root.getAttribute("data-devices") || "").split(" ");
    return digest(subscription.endpoint).then(function (hex) {
      return mine.indexOf(hex) !== -1;
    });
  }

  function remember(endpoint, on) {
    return digest(endpoint).then(function (hex) {
      var mine = (root.getAttribute("data-devices") || "").split(" ").filter(function (d) {
        return d && d !== hex;
      });
      if (on) {
        mine.push(hex);
      }
      root.setAttribute("data-devices", mine.join(" "));
    });
  }

  var registration = navigator.serviceWorker
    .register(root.getAttribute("data-sw-url"), { scope: root.getAttribute("data-sw-scope") })
    .then(function () {
      return navigator.serviceWorker.ready;
    });

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": root.getAttribute("data-csrf"),
      },
      body: JSON.stringify(body),
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var read = type.indexOf("application/json") === 0 ? response.json() : Promise.resolve({});
      return read.then(function (data) {
        if (!response.ok) {
          var message = (data && data.error && data.error.message) || "The server refused it.";
          if (response.status === 400 && !(data && data.error && data.error.field)) {
            message += " Reload the page and try again.";
          }
          throw new Error(message);
        }
        if (data && typeof data.devices === "number") {
          count.textContent = String(data.devices);
        }
        return data;
      });
    });
  }

  function withTimeout(promise) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        reject(new Error("the browser's push service did not answer"));
      }, SUBSCRIBE_TIMEOUT_MS);
      promise.then(
        function (value) {
          clearTimeout(timer);
          resolve(value);
        },
        function (error) {
          clearTimeout(timer);
          reject(error);
        }
      );
    });
  }

  function describe(error) {
    var detail = error && (error.name && error.name !== "Error" ? error.name + ": " : "") + (error.message || "");
    return detail ? " (" + detail + ")" : "";
  }

  function askPermission() {
    if (Notification.permission === "granted") {
      return Promise.resolve("granted");
    }
    return new Promise(function (resolve) {
      // Older Safari takes a callback; newer browsers return a promise.
      var answer = Notification.requestPermission(resolve);
      if (answer && answer.then) {
        answer.then(resolve);
      }
    });
  }

  function blocked() {
    say(
      "Notifications are blocked for Cadence in this browser. Allow them in the browser's " +
        "site settings, then reload this page."
    );
    show(false, false);
  }

  function turnOn() {
    busy("Turning on push…");
    var made = null; // a subscription made now (undone if the server refuses it)
    askPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          throw { permission: permission };
        }
        return registration;
      })
      .then(function (reg) {
        return reg.pushManager.getSubscription().then(function (existing) {
          if (existing && sameBytes(existing.options.applicationServerKey, serverKey)) {
            return existing;
          }
          // Made with an earlier server key: the server can no longer sign for it.
          var cleared = existing ? existing.unsubscribe() : Promise.resolve();
          return cleared.then(function () {
            return withTimeout(
              reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: serverKey })
            ).then(function (subscription) {
              made = subscription;
              return subscription;
            });
          });
        });
      })
      .then(function (subscription) {
        return post(root.getAttribute("data-subscribe-url"), subscription.toJSON()).then(function () {
          return remember(subscription.endpoint, true);
        });
      })
      .then(function () {
        say("Push is on for you on this device.");
        show(false, true);
      })
      .catch(function (error) {
        if (error && error.permission) {
          if (error.permission === "denied") {
            blocked();
          } else {
            say("Push stays off: the browser was not allowed to show notifications.");
            show(true, false);
          }
          return;
        }
        if (made) {
          made.unsubscribe().catch(function () {});
        }
        say(
          "Push could not be turned on in this browser" +
            describe(error) +
            ". Try again later, or choose another way of being reminded."
        );
        show(true, false);
      });
  }

  function turnOff() {
    busy("Turning off push…");
    registration
      .then(function (reg) {
        return reg.pushManager.getSubscription();
      })
      .then(function (subscription) {
        if (!subscription) {
          return null;
        }
        return post(root.getAttribute("data-unsubscribe-url"), { endpoint: subscription.endpoint })
          .then(function () {
            return remember(subscription.endpoint, false);
          })
          .then(function () {
            return subscription.unsubscribe();
          });
      })
      .then(function () {
        say("Push is off on this device.");
        show(true, false);
      })
      .catch(function (error) {
        say("Push could not be turned off" + describe(error) + ". Try again.");
        show(false, true);
      });
  }

  onButton.addEventListener("click", turnOn);
  offButton.addEventListener("click", turnOff);

  if (Notification.permission === "denied") {
    blocked();
    return;
  }
  registration
    .then(function (reg) {
      return reg.pushManager.getSubscription();
    })
    .then(function (subscription) {
      if (!subscription) {
        say("Push is off on this device.");
        show(true, false);
        return null;
      }
      return isMine(subscription).then(function (mine) {
        if (mine && sameBytes(subscription.options.applicationServerKey, serverKey)) {
          say("Push is on for you on this device.");
          show(false, true);
        } else {
          say("Push is off for you on this device.");
          show(true, false);
        }
      });
    })
    .catch(function (error) {
      say("This browser could not start push" + describe(error) + ".");
      show(true, false);
    });
})();
