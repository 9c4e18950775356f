// The morphsynth control page. Every control sends the OSC message an OSC client would send,
// as JSON {"address", "args"} over one WebSocket; the server handles it as an OSC packet and
// notifies every change (from this page, other pages, OSC or MIDI), which moves the controls.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const HOLD_MS = 500;      // a control moved here ignores echoes for this long (they lag the finger)
  const SEND_MS = 30;       // a dragged control sends at most this often
  const WHITE = [0, 2, 4, 5, 7, 9, 11];
  const COMPUTER_KEYS = "awsedftgyhujk";   // C to C, as on a piano's row of keys

  const state = { sources: [], x: 0.5, y: 0.5, names: [], base: 48, keys: 25 };
  const touched = {};       // control id -> performance.now() of its last local change
  let ws = null;
  let retry = 500;
  let padPointer = null;

  // ------------------------------------------------------------------ sending

  function send(address, ...args) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ address, args }));
  }

  // The latest value per control, sent at most every SEND_MS: a drag must not flood the server.
  const pending = new Map();
  let timer = null;
  function sendSoon(key, address, ...args) {
    pending.set(key, [address, args]);
    if (timer === null) timer = setTimeout(flush, SEND_MS);
  }
  function flush() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    for (const [address, args] of pending.values()) send(address, ...args);
    pending.clear();
  }

  function mark(id) { touched[id] = performance.now(); }
  function fresh(id) { return performance.now() - (touched[id] || -1e9) > HOLD_MS; }

  function say(text, error = false) {
    const m = $("message");
    m.textContent = text;
    m.classList.toggle("error", error);
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { m.textContent = ""; }, error ? 8000 : 3000);
  }

  // ------------------------------------------------------------------ XY pad and its corners

  const pad = $("pad");
  const corners = [0, 1, 2, 3].map((i) => $(`corner${i}`));

  function showXY() {
    const dot = $("dot");
    dot.style.left = `${state.x * 100}%`;
    dot.style.top = `${(1 - state.y) * 100}%`;
    pad.dataset.x = state.x;
    pad.dataset.y = state.y;
    pad.setAttribute("aria-valuetext", `x ${state.x.toFixed(2)}, y ${state.y.toFixed(2)}`);
    $("xy").textContent = `x ${state.x.toFixed(2)}  y ${state.y.toFixed(2)}`;
  }

  function padMove(e) {
    const r = pad.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    state.x = clamp((e.clientX - r.left) / r.width);
    state.y = clamp(1 - (e.clientY - r.top) / r.height);
    showXY();
    sendSoon("xy", "/morph/xy", round(state.x), round(state.y));
  }
  const round = (v) => Math.round(v * 10000) / 10000;

  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    padPointer = e.pointerId;
    padMove(e);
  });
  pad.addEventListener("pointermove", (e) => { if (padPointer === e.pointerId) padMove(e); });
  pad.addEventListener("pointerup", (e) => {
    if (padPointer !== e.pointerId) return;
    padMove(e);
    padPointer = null;
    flush();
  });
  pad.addEventListener("pointercancel", (e) => {
    if (padPointer === e.pointerId) { padPointer = null; flush(); }
  });
  pad.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: [-0.05, 0], ArrowRight: [0.05, 0], ArrowUp: [0, 0.05], ArrowDown: [0, -0.05] }[e.key];
    if (!step) return;
    e.preventDefault();
    state.x = Math.min(1, Math.max(0, state.x + step[0]));
    state.y = Math.min(1, Math.max(0, state.y + step[1]));
    showXY();
    sendSoon("xy", "/morph/xy", round(state.x), round(state.y));
  });

  function family(name) { return name.split("_")[0]; }

  function fillCorners() {
    const names = state.names.slice();
    for (const s of state.sources) if (!names.includes(s)) names.push(s);
    for (const [i, select] of corners.entries()) {
      select.textContent = "";
      const none = new Option("\u2014", "");
      none.disabled = true;
      select.add(none);
      let group = null;
      for (const name of names) {
        if (!group || group.label !== family(name)) {
          group = document.createElement("optgroup");
          group.label = family(name);
          select.appendChild(group);
        }
        group.appendChild(new Option(name, name));
      }
      select.value = state.sources[i] || "";
    }
  }

  function showSources() {
    for (const i of [0, 1, 2, 3]) {
      const name = state.sources[i] || "";
      $(`label${i}`).textContent = name;
      $(`label${i}`).title = name;
      if (name && ![...corners[i].options].some((o) => o.value === name)) fillCorners();
      corners[i].value = name;
    }
    const extra = state.sources.length - 4;
    $("extra-sources").textContent = extra > 0 ? `(+${extra} sources mixed by weight)` :
      state.sources.length < 4 ? `(${state.sources.length} sources)` : "";
  }

  for (const select of corners) {
    select.addEventListener("change", () => {
      const chosen = select.value;
      const names = corners.map((c, i) => c.value || state.sources[i] || chosen);
      send("/morph/sources", ...names);
    });
  }

  // ------------------------------------------------------------------ envelope, gain, knobs

  const toSeconds = (v) => 10 * Math.pow(v / 1000, 3);          // fine control of short times
  const fromSeconds = (s) => 1000 * Math.cbrt(Math.min(Math.max(s, 0), 10) / 10);
  const fmtTime = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);
  const adsrIds = ["attack", "decay", "sustain", "release"];

  function adsrValues() {
    return adsrIds.map((id) => (id === "sustain" ? +$(id).value : round(toSeconds(+$(id).value))));
  }
  function showAdsr(values) {
    for (const [i, id] of adsrIds.entries()) {
      const v = values[i];
      $(id).value = id === "sustain" ? v : fromSeconds(v);
      $(`${id}-v`).textContent = id === "sustain" ? v.toFixed(2) : fmtTime(v);
    }
  }
  for (const id of adsrIds) {
    $(id).addEventListener("input", () => {
      mark("adsr");
      const values = adsrValues();
      showAdsr(values);
      sendSoon("adsr", "/adsr", ...values);
    });
  }

  function showGain(db) {
    $("gain").value = db;
    $("gain-v").textContent = `${db.toFixed(1)} dB`;
  }
  $("gain").addEventListener("input", () => {
    mark("gain");
    const db = +$("gain").value;
    showGain(db);
    sendSoon("gain", "/gain", db);
  });

  const knobs = [];
  for (let i = 0; i < 8; i++) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    const out = document.createElement("output");
    Object.assign(input, { type: "range", min: -4, max: 4, step: 0.05, value: 0, id: `knob${i}` });
    label.append(`${i}`, input, out);
    $("knobs").appendChild(label);
    const change = (v) => {
      mark(`knob${i}`);
      showKnob(i, v);
      sendSoon(`knob${i}`, "/knob", i, v);
    };
    input.addEventListener("input", () => change(+input.value));
    input.addEventListener("dblclick", () => change(0));
    knobs.push([input, out]);
  }
  function showKnob(i, v) {
    knobs[i][0].value = v;
    knobs[i][1].textContent = (v >= 0 ? "+" : "") + v.toFixed(2);
  }

  // ------------------------------------------------------------------ presets

  function fillPresets(names) {
    const list = $("preset-list");
    const keep = list.value;
    list.textContent = "";
    if (!names.length) list.add(new Option("(no presets)", ""));
    for (const name of names) list.add(new Option(name, name));
    if (names.includes(keep)) list.value = keep;
  }
  $("preset-load").addEventListener("click", () => {
    if ($("preset-list").value) send("/preset/load", $("preset-list").value);
  });
  function savePreset() {
    const name = $("preset-name").value.trim();
    if (name) send("/preset/save", name);
    else say("give the preset a name", true);
  }
  $("preset-save").addEventListener("click", savePreset);
  $("preset-name").addEventListener("keydown", (e) => { if (e.key === "Enter") savePreset(); });

  // ------------------------------------------------------------------ keyboard

  const kb = $("keyboard");
  const held = new Map();       // pitch -> how many pointers or keys hold it
  const pointers = new Map();   // pointerId -> pitch it holds

  function buildKeyboard() {
    state.keys = window.innerWidth < 560 ? 13 : 25;
    state.base = Math.min(state.base, 108 - state.keys + 1);
    kb.textContent = "";
    let whites = 0;
    for (let k = 0; k < state.keys; k++) whites += WHITE.includes((state.base + k) % 12) ? 1 : 0;
    const w = 100 / whites;
    let at = 0;
    for (let k = 0; k < state.keys; k++) {
      const pitch = state.base + k;
      const white = WHITE.includes(pitch % 12);
      const key = document.createElement("div");
      key.className = `key ${white ? "white" : "black"}`;
      key.dataset.pitch = pitch;
      if (pitch < 21 || pitch > 108) key.classList.add("disabled");
      key.style.left = `${white ? at * w : at * w - w * 0.3}%`;
      key.style.width = `${white ? w : w * 0.6}%`;
      if (pitch % 12 === 0) key.textContent = `C${pitch / 12 - 1}`;
      if (held.has(pitch)) key.classList.add("down");
      kb.appendChild(key);
      if (white) at++;
    }
    $("octave").textContent = `C${state.base / 12 - 1}`;
  }

  function keyEl(pitch) { return kb.querySelector(`.key[data-pitch="${pitch}"]`); }
  function noteOn(pitch) {
    const n = held.get(pitch) || 0;
    if (n === 0) {
      send("/note/on", pitch, +$("velocity").value);
      const el = keyEl(pitch);
      if (el) el.classList.add("down");
    }
    held.set(pitch, n + 1);
  }
  function noteOff(pitch) {
    const n = held.get(pitch) || 0;
    if (n <= 1) {
      held.delete(pitch);
      if (n === 1) send("/note/off", pitch);
      const el = keyEl(pitch);
      if (el) el.classList.remove("down");
    } else {
      held.set(pitch, n - 1);
    }
  }
  function releaseAll() {
    for (const pitch of [...held.keys()]) { held.set(pitch, 1); noteOff(pitch); }
    pointers.clear();
    computerHeld.clear();
  }

  function keyAt(e) {
    const el = document.elementFromPoint(e.clientX, e.clientY);
    return el && el.closest ? el.closest(".key:not(.disabled)") : null;
  }
  function press(id, key) {
    const pitch = +key.dataset.pitch;
    if (pointers.get(id) === pitch) return;
    if (pointers.has(id)) noteOff(pointers.get(id));
    pointers.set(id, pitch);
    noteOn(pitch);
  }
  function lift(e) {
    if (!pointers.has(e.pointerId)) return;
    noteOff(pointers.get(e.pointerId));
    pointers.delete(e.pointerId);
  }
  kb.addEventListener("pointerdown", (e) => {
    const key = keyAt(e);
    if (!key) return;
    e.preventDefault();
    kb.setPointerCapture(e.pointerId);
    press(e.pointerId, key);
  });
  kb.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId)) return;
    const key = keyAt(e);
    if (key) press(e.pointerId, key);      // a glissando: the finger slides to the next key
  });
  kb.addEventListener("pointerup", lift);
  kb.addEventListener("pointercancel", lift);
  kb.addEventListener("contextmenu", (e) => e.preventDefault());

  const computerHeld = new Map();   // computer key -> pitch
  function typing(e) { return ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target.type !== "range"; }
  document.addEventListener("keydown", (e) => {
    if (e.repeat || typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === "z" || k === "x") { shift(k === "z" ? -12 : 12); return; }
    const i = COMPUTER_KEYS.indexOf(k);
    if (i < 0 || computerHeld.has(k)) return;
    const pitch = state.base + i;
    if (pitch < 21 || pitch > 108) return;
    computerHeld.set(k, pitch);   // the pitch it struck, even if the octave moves meanwhile
    noteOn(pitch);
  });
  document.addEventListener("keyup", (e) => {
    const k = e.key.toLowerCase();
    if (!computerHeld.has(k)) return;
    noteOff(computerHeld.get(k));
    computerHeld.delete(k);
  });
  window.addEventListener("blur", releaseAll);   // a key let go elsewhere must not stay stuck

  function shift(semitones) {
    const next = state.base + semitones;
    if (next < 12 || next > 108 - 12) return;
    state.base = next;
    buildKeyboard();
  }
  $("oct-down").addEventListener("click", () => shift(-12));
  $("oct-up").addEventListener("click", () => shift(12));
  $("velocity").addEventListener("input", () => { $("velocity-v").textContent = $("velocity").value; });
  $("panic").addEventListener("click", () => { releaseAll(); send("/panic"); });
  window.addEventListener("resize", () => { if ((window.innerWidth < 560 ? 13 : 25) !== state.keys) buildKeyboard(); });

  // ------------------------------------------------------------------ what the server says

  const stats = { voices: "-", xruns: "-", queue: "-", latency: "-" };
  function showStats() {
    $("stats").textContent =
      `voices ${stats.voices} \u00b7 xruns ${stats.xruns} \u00b7 render queue ${stats.queue} \u00b7 output latency ${stats.latency}`;
  }

  const on = {
    "/morph/sources": (...names) => { state.sources = names; showSources(); },
    "/morph/xy": (x, y) => {
      // While dragging, echoes lag the finger; after, the last echo is the last position sent.
      if (padPointer !== null) return;
      state.x = x;
      state.y = y;
      showXY();
    },
    "/knob": (i, v) => { if (i >= 0 && i < 8 && fresh(`knob${i}`)) showKnob(i, v); },
    "/adsr": (...values) => { if (fresh("adsr")) showAdsr(values); },
    "/gain": (db) => { if (fresh("gain")) showGain(db); },
    "/library/list.reply": (...names) => { state.names = names; fillCorners(); showSources(); },
    "/preset/list.reply": (...names) => fillPresets(names),
    "/preset/loaded": (name) => { say(`preset ${name} loaded`); $("preset-list").value = name; },
    "/library/changed": () => send("/library/list"),
    "/model/loaded": (name) => { say(`model ${name} loaded`); send("/library/list"); },
    "/library/loaded": (path) => { say(`library ${path} loaded`); send("/library/list"); },
    "/done": (address, ...rest) => {
      if (address === "/preset/save") { say(`saved preset ${rest[0]}`); send("/preset/list"); }
    },
    "/fail": (address, reason) => say(`${address || "message"}: ${reason}`, true),
    "/status.reply": (voices, polyphony, hits, misses, xruns, queue) => {
      Object.assign(stats, { voices: `${voices}/${polyphony}`, xruns, queue });
      showStats();
    },
    "/latency.reply": (block, deviceMs, renderLast, renderMean, renderP99, renders) => {
      const out = deviceMs >= 0 ? `${deviceMs.toFixed(1)} ms` : `${block}-frame blocks`;
      stats.latency = renders > 0 ? `${out}, uncached note ${renderLast.toFixed(0)} ms` : out;
      showStats();
    },
  };

  function link(up) {
    const el = $("link");
    el.textContent = up ? "connected" : "offline, retrying";
    el.classList.toggle("off", !up);
    document.body.classList.toggle("offline", !up);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/ws`);
    ws.onopen = () => {
      retry = 500;
      link(true);
      send("/library/list");
      send("/preset/list");
      send("/status");
      send("/latency");
    };
    ws.onmessage = (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch { return; }
      const handle = on[m.address];
      if (handle) handle(...(m.args || []));
    };
    ws.onclose = () => {
      link(false);
      held.clear();
      pointers.clear();
      for (const el of kb.querySelectorAll(".down")) el.classList.remove("down");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    };
  }

  const statsEl = document.createElement("span");
  statsEl.id = "stats";
  $("status").appendChild(statsEl);
  showStats();
  buildKeyboard();
  showXY();
  showAdsr([0.005, 0.1, 0.8, 0.3]);
  showGain(0);
  for (let i = 0; i < 8; i++) showKnob(i, 0);
  setInterval(() => { send("/status"); send("/latency"); }, 1000);
  connect();
})();
