// chaoslab console: swaps in the panels the server renders (Server-Sent Events, or polling when the
// server has no stream to spare), and loads trace lists and waterfalls on a click. No build step.
(function () {
  "use strict";
  const body = document.body;
  const view = body.dataset.view;
  let windowS = body.dataset.window;
  let stream = null;
  let poller = null;
  let selected = null; // {source, target} or {node}
  let openTrace = null;
  let traceTimer = null;

  function live(text) {
    document.getElementById("live").textContent = text;
  }

  function apply(panels) {
    for (const [id, html] of Object.entries(panels)) {
      const element = document.getElementById("panel-" + id);
      if (element) element.innerHTML = html;
    }
    markSelected();
    live((poller ? "polling" : "live") + " · " + new Date().toLocaleTimeString());
  }

  function query(extra) {
    const params = new URLSearchParams(Object.assign({ view: view, window: windowS }, extra || {}));
    return params.toString();
  }

  function connect() {
    if (stream) stream.close();
    stream = new EventSource("stream?" + query());
    stream.onmessage = function (event) {
      apply(JSON.parse(event.data));
    };
    stream.onerror = function () {
      if (stream.readyState === EventSource.CLOSED) {
        stream = null;
        startPolling();
      } else {
        live("reconnecting…");
      }
    };
  }

  function startPolling() {
    if (poller) return;
    const once = function () {
      fetch("panels?" + query())
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(apply)
        .catch(function () { live("no answer from the lab"); });
    };
    once();
    poller = setInterval(once, 2000);
  }

  function markSelected() {
    document.querySelectorAll("#graph-svg .selected").forEach(function (el) { el.classList.remove("selected"); });
    if (!selected) return;
    const selector = selected.node
      ? '.node[data-node="' + CSS.escape(selected.node) + '"]'
      : '.edge[data-source="' + CSS.escape(selected.source) + '"][data-target="' + CSS.escape(selected.target) + '"]';
    const element = document.querySelector("#graph-svg " + selector);
    if (element) element.classList.add("selected");
  }

  function loadList() {
    if (!selected) return;
    fetch("traces?" + query(selected))
      .then(function (response) { return response.text(); })
      .then(function (html) { document.getElementById("trace-list").innerHTML = html; });
  }

  function loadTrace(traceId) {
    openTrace = traceId;
    if (traceTimer) clearTimeout(traceTimer);
    fetch("trace/" + encodeURIComponent(traceId))
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (openTrace !== traceId) return;
        const box = document.getElementById("waterfall");
        const expanded = Array.from(box.querySelectorAll("details[open]")).map(function (d) {
          return Array.prototype.indexOf.call(box.querySelectorAll("details"), d);
        });
        box.innerHTML = html;
        const rows = box.querySelectorAll("details");
        expanded.forEach(function (index) { if (rows[index]) rows[index].open = true; });
        if (box.querySelector("details.open")) {
          traceTimer = setTimeout(function () { loadTrace(traceId); }, 2000); // still in flight: follow it
        }
      });
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest(".trace-link");
    if (link) {
      event.preventDefault();
      loadTrace(link.dataset.trace);
      return;
    }
    const button = event.target.closest("nav.windows button");
    if (button) {
      windowS = button.dataset.window;
      document.querySelectorAll("nav.windows button").forEach(function (b) {
        b.classList.toggle("on", b === button);
      });
      if (poller) { clearInterval(poller); poller = null; startPolling(); } else { connect(); }
      loadList();
      return;
    }
    const edge = event.target.closest("#graph-svg .edge");
    const node = event.target.closest("#graph-svg .node");
    if (edge) {
      selected = { source: edge.dataset.source, target: edge.dataset.target };
    } else if (node) {
      selected = { node: node.dataset.node };
    } else {
      return;
    }
    markSelected();
    loadList();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.closest && event.target.closest("#graph-svg .edge, #graph-svg .node")) {
      event.target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    }
  });

  // ---- pages in the browser: a toast always, a desktop notification and a tone once allowed ----------
  let noticesAfter = null;
  let notifying = false;

  function tone() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const beep = audio.createOscillator();
      beep.frequency.value = 880;
      beep.connect(audio.destination);
      beep.start();
      beep.stop(audio.currentTime + 0.25);
    } catch (e) { /* no sound here: the toast and the notification still say it */ }
  }

  function toast(notice) {
    const box = document.getElementById("notices");
    const item = document.createElement("p");
    item.className = "notice " + notice.sort;
    item.textContent = notice.line;
    box.prepend(item);
    while (box.children.length > 5) box.lastChild.remove();
  }

  function tell(notice) {
    toast(notice);
    if (!notice.rings) return;
    tone();
    if (notifying && window.Notification && Notification.permission === "granted") {
      new Notification(notice.incident + " " + notice.sort + ": " + notice.severity, { body: notice.line, tag: notice.incident });
    }
  }

  function followNotices() {
    fetch("notices" + (noticesAfter === null ? "" : "?after=" + noticesAfter))
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (doc) {
        if (noticesAfter !== null) doc.notices.forEach(tell);
        noticesAfter = doc.next;
        document.getElementById("notices").dataset.after = doc.next;
      })
      .catch(function () { /* the next look tries again */ });
  }

  document.getElementById("notify").addEventListener("click", function (event) {
    const button = event.currentTarget;
    const on = function () { notifying = true; button.textContent = "notifying"; button.classList.add("on"); };
    if (!window.Notification) { button.textContent = "no notifications here"; return; }
    if (Notification.permission === "granted") { on(); return; }
    Notification.requestPermission().then(function (answer) {
      if (answer === "granted") on(); else button.textContent = "notifications blocked";
    });
  });

  followNotices();
  setInterval(followNotices, 2000);
  connect();
})();
