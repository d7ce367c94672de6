// chaoslab console: updates the panels the server renders in place (Server-Sent Events, or polling when
// the server has no stream to spare), and loads trace lists and waterfalls on a click. No build step.
// In place: an element of the page is kept and only its changed attributes and texts are written, so
// the edge under the mouse, its tooltip and the keyboard's focus survive every refresh.
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
  let paused = null; // while paused: the latest panels the server sent, not shown yet
  let waiting = 0;
  let listedAt = 0;
  let updatedAt = Date.now();
  const LIST_EVERY_MS = 10000;

  function live(text) {
    document.getElementById("live").textContent = text;
  }

  // An element's identity across refreshes: a graph node or edge by its names, else its id, else its
  // tag and place among its siblings.
  function identity(element, index) {
    const data = element.dataset || {};
    if (data.node) return "node:" + data.node;
    if (data.source) return "edge:" + data.source + ">" + data.target;
    if (element.id) return "#" + element.id;
    return element.tagName + ":" + index;
  }

  function morph(old, fresh) {
    Array.from(old.attributes).forEach(function (a) { if (!fresh.hasAttribute(a.name)) old.removeAttribute(a.name); });
    Array.from(fresh.attributes).forEach(function (a) {
      if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
    });
    if (fresh.childNodes.length !== fresh.children.length || !fresh.children.length) {
      // text, or text mixed with elements: written only when it changed
      if (old.innerHTML !== fresh.innerHTML) old.innerHTML = fresh.innerHTML;
      return;
    }
    const kept = new Map();
    Array.from(old.children).forEach(function (child, i) { kept.set(identity(child, i), child); });
    Array.from(fresh.children).forEach(function (child, i) {
      const key = identity(child, i);
      let found = kept.get(key);
      if (found && found.tagName === child.tagName) {
        kept.delete(key);
        morph(found, child);
      } else {
        found = child;
      }
      if (old.children[i] !== found) old.insertBefore(found, old.children[i] || null);
    });
    kept.forEach(function (child) { if (child.parentNode === old) child.remove(); });
  }

  function apply(panels) {
    if (paused) {
      Object.assign(paused, panels); // each update carries only what changed: keep them all
      waiting += 1;
      live("paused · " + waiting + " update" + (waiting === 1 ? "" : "s") + " waiting");
      return;
    }
    for (const [id, html] of Object.entries(panels)) {
      const element = document.getElementById("panel-" + id);
      if (!element) continue;
      const fresh = document.createElement("div");
      fresh.innerHTML = html;
      fresh.id = element.id;
      morph(element, fresh);
    }
    markSelected();
    updatedAt = Date.now();
    if (selected && Date.now() - listedAt > LIST_EVERY_MS) loadList(); // the list follows its window
    live((poller ? "polling" : "live") + " · " + new Date().toLocaleTimeString());
  }

  function pause(on) {
    const button = document.getElementById("pause");
    if (on) {
      paused = paused || {};
      waiting = 0;
      live("paused");
    } else {
      const held = paused;
      paused = null;
      if (held && Object.keys(held).length) apply(held);
    }
    button.textContent = on ? "resume" : "pause";
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // Projection mode in or out: the page again with present=1 or 0 (the server draws the graph for it).
  function project() {
    const params = new URLSearchParams(window.location.search);
    params.set("present", body.dataset.present === "1" ? "0" : "1");
    window.location.search = params.toString();
  }

  // What is selected and the window, in the address: a link opens the same view.
  function remember() {
    const params = new URLSearchParams(window.location.search);
    params.set("window", windowS);
    ["node", "source", "target"].forEach(function (k) { params.delete(k); });
    if (selected) Object.entries(selected).forEach(function (kv) { params.set(kv[0], kv[1]); });
    history.replaceState(null, "", "?" + params.toString());
  }

  function query(extra) {
    const params = new URLSearchParams(Object.assign({ view: view, window: windowS, present: body.dataset.present }, extra || {}));
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
      }
      // CONNECTING: the stream ended on its own (a few minutes each) and the browser is already back;
      // the page says "reconnecting" only if no update comes for a while (see the check below)
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
    listedAt = Date.now();
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
    if (event.target.closest("#pause")) {
      pause(!paused);
      return;
    }
    if (event.target.closest("#present")) {
      project();
      return;
    }
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
      remember();
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
    remember();
  });

  // A trace id from a log line or a colleague: straight to its waterfall.
  document.getElementById("find-trace").addEventListener("submit", function (event) {
    event.preventDefault();
    loadTrace(event.currentTarget.elements.trace.value.trim().toLowerCase());
  });

  document.addEventListener("keydown", function (event) {
    if (event.target.closest && event.target.closest("input, textarea")) return; // typing, not a key command
    if (event.key === "Enter" && event.target.closest && event.target.closest("#graph-svg .edge, #graph-svg .node")) {
      event.target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    } else if (event.key === "p" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      pause(!paused);
    } else if (event.key === "f" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      project();
    } else if (replay && ["j", "k", "l"].includes(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      replayKey(event.key);
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

  const asked = new URLSearchParams(window.location.search);
  if (asked.get("node")) selected = { node: asked.get("node") };
  else if (asked.get("source") && asked.get("target")) selected = { source: asked.get("source"), target: asked.get("target") };
  if (selected) loadList();

  // ---- a replay: one clock for every page of it, moved by any of them -------------------------------
  const replay = document.getElementById("replay");
  let dragging = false;

  function showReplay(doc) {
    const slider = document.getElementById("replay-slider");
    if (!dragging) slider.value = doc.now;
    document.getElementById("replay-clock").textContent =
      new Date(doc.now * 1000).toLocaleTimeString() + " (+" + clockText(doc.now - doc.start) + ")";
    const play = document.getElementById("replay-play");
    play.textContent = doc.playing ? "stop" : "play";
    play.setAttribute("aria-pressed", String(doc.playing));
    replay.querySelectorAll("[data-speed]").forEach(function (b) { b.classList.toggle("on", Number(b.dataset.speed) === doc.speed); });
    replay.dataset.now = doc.now;
    replay.dataset.playing = doc.playing;
    updatedAt = Date.now(); // a paused replay sends nothing new, and is not lost
  }

  function clockText(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function follow() {
    fetch("replay").then(function (response) { return response.json(); }).then(showReplay).catch(function () {});
  }

  function steer(body) {
    return fetch("replay", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (doc) {
        showReplay(doc);
        if (body.action === "seek") {
          const params = new URLSearchParams(window.location.search);
          params.set("at", Math.round(doc.now));
          history.replaceState(null, "", "?" + params.toString());
          if (selected) loadList();
        }
      })
      .catch(follow); // refused (an ?at= outside the recording): show where it is
  }

  // k plays or stops, j and l jump to the mark before or after the position (a projector's remote)
  function replayKey(key) {
    if (key === "k") { steer({ action: replay.dataset.playing === "true" ? "pause" : "play" }); return; }
    const now = Number(replay.dataset.now || replay.dataset.start);
    const times = Array.from(replay.querySelectorAll(".mark")).map(function (m) { return Number(m.dataset.t); });
    const target = key === "l"
      ? times.find(function (t) { return t > now + 0.5; })
      : times.filter(function (t) { return t < now - 0.5; }).pop();
    if (target !== undefined) steer({ action: "seek", t: target });
  }

  if (replay) {
    const slider = document.getElementById("replay-slider");
    slider.addEventListener("input", function () { dragging = true; });
    slider.addEventListener("change", function () { dragging = false; steer({ action: "seek", t: Number(slider.value) }); });
    replay.addEventListener("click", function (event) {
      const mark = event.target.closest(".mark");
      if (mark) { steer({ action: "seek", t: Number(mark.dataset.t) }); return; }
      const speed = event.target.closest("[data-speed]");
      if (speed) { steer({ action: "play", speed: Number(speed.dataset.speed) }); return; }
      if (event.target.closest("#replay-play")) steer({ action: replay.dataset.playing === "true" ? "pause" : "play" });
    });
    if (asked.get("at")) steer({ action: "seek", t: Number(asked.get("at")) }); else follow();
    setInterval(follow, 1000);
  }

  followNotices();
  setInterval(followNotices, 2000);
  setInterval(function () { // no update for 10 s on a live page: say so
    if (!paused && !poller && Date.now() - updatedAt > 10000) live("reconnecting…");
  }, 2000);
  connect();
})();
