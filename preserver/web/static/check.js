/* The "Is this the file?" page (/check): hash a chosen file in this browser and ask the
   archive about its SHA-256 only.

   The hashing runs in a Web Worker (sha256-worker.js), a chunk at a time, so the
   page stays responsive and a file of any size is never held whole in memory; the worker
   reports progress after each chunk. When the hash is known the page fetches
   /check?sha256=<hex> (the same server-rendered answer the form without JavaScript
   gets), puts its #result section in place of this page's, and records the URL in the
   history. If that fetch fails (the session ended, the network went away) the browser
   simply goes to that URL.

   Texts come from the data-text-* attributes of #picker, rendered in the page's
   language; {name} fields in them are filled in here. No inline script: the page's CSP
   is script-src 'self'. */
(function () {
  "use strict";
  var picker = document.getElementById("picker");
  if (!picker || typeof Worker === "undefined" || typeof fetch === "undefined" ||
      typeof Blob === "undefined" || !Blob.prototype.slice || !Blob.prototype.arrayBuffer) {
    return;  // the picker stays hidden; the paste form works without any of this
  }
  var input = document.getElementById("check-file");
  var bar = document.getElementById("check-progress");
  var status = document.getElementById("check-status");
  var field = document.getElementById("check-sha256");
  var chunkBytes = parseInt(picker.getAttribute("data-chunk-bytes"), 10) || (8 << 20);
  var numbers = {};
  var worker = null, generation = 0;

  function number(value, digits) {
    if (!numbers[digits]) {
      numbers[digits] = new Intl.NumberFormat(document.documentElement.lang || "en",
                                              {maximumFractionDigits: digits});
    }
    return numbers[digits].format(value);
  }

  function say(key, values) {
    var text = picker.getAttribute("data-text-" + key) || "";
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  function rate(bytes, ms) {
    return ms > 0 ? number(bytes / 1e6 / (ms / 1000), 0) : "…";
  }

  function stop() {
    if (worker !== null) { worker.terminate(); worker = null; }
  }

  function fail(message) {
    stop();
    bar.hidden = true;
    status.className = "error";
    status.textContent = say("failed", {message: message});
  }

  function emptyResult() {
    var result = document.getElementById("result");
    result.textContent = "";
    result.setAttribute("data-sha256", "");
  }

  function ask(sha256, mine, hashed) {
    var url = "/check?sha256=" + sha256;
    field.value = sha256;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (mine !== generation) { return; }  // another file was chosen meanwhile
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("result");
        if (!fresh) { throw new Error("no result in the answer"); }
        document.getElementById("result").replaceWith(document.adoptNode(fresh));
        history.pushState({sha256: sha256}, "", url);
        status.textContent = hashed;
      })
      .catch(function () {
        if (mine === generation) { window.location.assign(url); }
      });
  }

  input.addEventListener("change", function () {
    stop();
    var mine = ++generation;
    var file = input.files && input.files[0];
    emptyResult();
    status.className = "";
    ["data-sha256", "data-bytes", "data-ms", "data-via", "data-read"].forEach(function (name) {
      status.removeAttribute(name);
    });
    if (!file) { bar.hidden = true; status.textContent = ""; return; }
    var size = number(file.size / 1e6, file.size < 1e6 ? 3 : 1);
    bar.value = 0;
    bar.hidden = false;
    status.textContent = say("hashing", {name: file.name, percent: 0, size: size, rate: "…"});
    worker = new Worker(picker.getAttribute("data-worker"));
    worker.onmessage = function (event) {
      var m = event.data;
      if (mine !== generation) { return; }
      if (m.type === "progress") {
        var percent = m.total > 0 ? Math.floor(m.done / m.total * 100) : 100;
        bar.value = percent;
        status.textContent = say("hashing", {name: file.name, percent: percent, size: size,
                                             rate: rate(m.done, m.ms)});
      } else if (m.type === "done") {
        stop();
        bar.value = 100;
        status.setAttribute("data-sha256", m.sha256);
        status.setAttribute("data-bytes", String(m.bytes));
        status.setAttribute("data-ms", String(Math.round(m.ms)));
        status.setAttribute("data-via", m.via);
        status.setAttribute("data-read", m.read || "");
        var took = {size: size, seconds: number(m.ms / 1000, m.ms < 1000 ? 2 : 1),
                    rate: rate(m.bytes, m.ms)};
        status.textContent = say("asking", took);
        ask(m.sha256, mine, say("hashed", took));
      } else {
        fail(m.message);
      }
    };
    worker.onerror = function (event) {
      event.preventDefault();
      if (mine === generation) { fail(event.message || "worker error"); }
    };
    worker.postMessage({file: file, chunkSize: chunkBytes});
  });

  // Back and Forward over the pushed URLs: show what the URL asks for
  window.addEventListener("popstate", function () { window.location.reload(); });

  picker.hidden = false;
})();
