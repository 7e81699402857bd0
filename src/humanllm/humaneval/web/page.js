"use strict";
// Human evaluation page. Opened from the file system its data are embedded; served by
// `humanllm serve` it reads them from /api/human-eval/<name> and saves the sheet back there.
// Every text from the run is shown through textContent, never parsed as HTML.
(() => {
  const $ = (id) => document.getElementById(id);
  const boot = JSON.parse($("he-data").textContent);
  const SCALES = ["hallucination", "plausibility"];
  const COLUMNS = ["instance_id", "annotator", "stratum", "hallucination", "plausibility", "note"];
  const S = {
    meta: null, byId: {}, annotator: "", order: [], pos: 0, ratings: {}, active: SCALES[0],
    token: sessionStorage.getItem("humanllm-token") || "", timer: null,
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function status(text, kind) {
    const s = $("status");
    s.textContent = text;
    s.className = kind || "";
  }

  // --- storage: this browser (always) and the run folder (served) ----------------------------
  const key = (what) => "humanllm-human-eval:" + S.meta.id + ":" + what;

  function loadLocal() {
    try {
      return JSON.parse(localStorage.getItem(key(S.annotator)) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function saveLocal() {
    localStorage.setItem(key(S.annotator), JSON.stringify(S.ratings));
  }

  async function api(path, options) {
    const headers = { "Content-Type": "application/json" };
    if (S.token) headers.Authorization = "Bearer " + S.token;
    const res = await fetch(boot.api + path, { ...(options || {}), headers });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) $("token-box").hidden = false;
    if (!res.ok) throw new Error((body.error && body.error.message) || res.status + " " + res.statusText);
    return body;
  }

  function rowsOf() {
    return S.order.map((id) => {
      const r = S.ratings[id] || {};
      return {
        instance_id: id, annotator: S.annotator, stratum: S.byId[id].stratum,
        hallucination: r.hallucination || null, plausibility: r.plausibility || null, note: r.note || "",
      };
    });
  }

  function changed() {
    saveLocal();
    if (boot.mode !== "served") return;
    clearTimeout(S.timer);
    S.timer = setTimeout(async () => {
      try {
        const got = await api("/sheets/" + encodeURIComponent(S.annotator), {
          method: "PUT", body: JSON.stringify({ rows: rowsOf() }),
        });
        status("saved to the run folder (" + got.rated + " rated)", "ok");
      } catch (e) {
        status("not saved to the run folder: " + e.message + " (kept in this browser)", "error");
      }
    }, 300);
  }

  // --- export ---------------------------------------------------------------------------------
  function cell(v) {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function exportCsv() {
    const lines = [COLUMNS.join(",")];
    for (const row of rowsOf()) lines.push(COLUMNS.map((c) => cell(row[c])).join(","));
    const blob = new Blob(["\ufeff" + lines.join("\n") + "\n"], { type: "text/csv;charset=utf-8" });
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = S.annotator + ".csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    const left = S.order.length - rated();
    status("exported " + a.download + (left ? " (" + left + " not rated yet)" : ""), left ? "" : "ok");
  }

  // --- rendering ------------------------------------------------------------------------------
  const done = (id) => SCALES.every((s) => (S.ratings[id] || {})[s]);
  const rated = () => S.order.filter(done).length;

  function renderStrip() {
    const strip = $("strip");
    strip.replaceChildren();
    S.order.forEach((id, i) => {
      const b = el("button");
      b.type = "button";
      b.title = id;
      const r = S.ratings[id] || {};
      if (done(id)) b.classList.add("rated");
      else if (SCALES.some((s) => r[s])) b.classList.add("half");
      if (i === S.pos) b.classList.add("current");
      b.addEventListener("click", () => go(i));
      strip.appendChild(b);
    });
    $("progress").textContent = "rated " + rated() + " of " + S.order.length;
  }

  function renderScales() {
    const box = $("scales");
    box.replaceChildren();
    const id = S.order[S.pos];
    for (const scale of SCALES) {
      const info = S.meta.scales[scale];
      const fs = el("fieldset");
      fs.id = "scale-" + scale;
      if (scale === S.active) fs.classList.add("active");
      fs.appendChild(el("legend", "", info.title));
      fs.appendChild(el("p", "question", info.question));
      const points = el("div", "points");
      info.anchors.forEach((anchor, k) => {
        const value = k + 1;
        const label = el("label", "point");
        const input = el("input");
        input.type = "radio";
        input.name = scale;
        input.value = String(value);
        input.checked = (S.ratings[id] || {})[scale] === value;
        input.addEventListener("change", () => rate(scale, value));
        label.append(input, el("b", "", value), el("span", "", anchor));
        points.appendChild(label);
      });
      fs.appendChild(points);
      fs.addEventListener("click", () => setActive(scale));
      box.appendChild(fs);
    }
  }

  function render() {
    const id = S.order[S.pos];
    const inst = S.byId[id];
    $("where").textContent =
      "Instance " + (S.pos + 1) + " of " + S.order.length + " · " + id + " · " + inst.stratum;
    const src = $("source");
    src.replaceChildren();
    for (const r of inst.records) {
      const box = el("article", "record");
      const head = el("div", "head", [r.created_at, r.record_id].filter(Boolean).join(" · "));
      box.appendChild(head);
      if (r.title) box.appendChild(el("div", "title", r.title));
      if (r.context) box.appendChild(el("div", "context", r.context));
      box.appendChild(el("div", "text", r.text));
      src.appendChild(box);
    }
    const made = $("made");
    made.replaceChildren();
    for (const s of inst.synthesized) {
      const box = el("div", "section");
      box.append(el("div", "label", s.label), el("div", "text", s.text));
      made.appendChild(box);
    }
    $("note").value = (S.ratings[id] || {}).note || "";
    $("prev").disabled = S.pos === 0;
    $("next").disabled = S.pos === S.order.length - 1;
    renderScales();
    renderStrip();
  }

  function go(pos) {
    S.pos = Math.max(0, Math.min(S.order.length - 1, pos));
    S.active = SCALES[0];
    render();
  }

  function nextUnrated() {
    for (let k = 1; k <= S.order.length; k++) {
      const i = (S.pos + k) % S.order.length;
      if (!done(S.order[i])) return go(i);
    }
    status("all " + S.order.length + " rated: export your sheet", "ok");
  }

  function setActive(scale) {
    if (S.active === scale) return;
    S.active = scale;
    for (const s of SCALES) $("scale-" + s).classList.toggle("active", s === scale);
  }

  function rate(scale, value) {
    const id = S.order[S.pos];
    S.ratings[id] = { ...(S.ratings[id] || {}), [scale]: value };
    changed();
    const i = SCALES.indexOf(scale);
    S.active = SCALES[Math.min(i + 1, SCALES.length - 1)];
    renderScales();
    renderStrip();
  }

  // --- start ----------------------------------------------------------------------------------
  async function choose(annotator) {
    S.annotator = annotator;
    S.order = S.meta.orders[annotator] || [];
    S.ratings = loadLocal();
    localStorage.setItem(key("who"), annotator);
    $("annotator").value = annotator;
    if (boot.mode === "served") {
      try {
        const saved = await api("/sheets/" + encodeURIComponent(annotator));
        for (const row of saved.rows) {
          const mine = S.ratings[row.instance_id] || {};
          const merged = { ...mine };
          for (const f of [...SCALES, "note"]) if (!mine[f] && row[f]) merged[f] = row[f];
          S.ratings[row.instance_id] = merged;
        }
        saveLocal();
      } catch (e) {
        status("could not read the saved sheet: " + e.message, "error");
      }
    }
    $("annotator").blur(); // the keys rate from here on
    $("choose").hidden = true;
    $("work").hidden = false;
    $("export").disabled = false;
    const first = S.order.findIndex((id) => !done(id));
    go(first < 0 ? 0 : first);
  }

  function init(meta, instances) {
    S.meta = meta;
    for (const x of instances) S.byId[x.instance_id] = x;
    document.title = "Human evaluation · " + meta.name;
    $("title").textContent = "Human evaluation · " + meta.name;
    const pick = $("annotator");
    for (const a of meta.annotators) {
      const o = el("option", "", a + " (" + (meta.orders[a] || []).length + " instances)");
      o.value = a;
      pick.appendChild(o);
    }
    pick.addEventListener("change", () => pick.value && choose(pick.value));
    const wanted = decodeURIComponent(location.hash.slice(1)) || localStorage.getItem(key("who")) || "";
    if (meta.annotators.includes(wanted)) choose(wanted);
  }

  async function start() {
    if (boot.mode !== "served") return init(boot.meta, boot.instances);
    try {
      const data = await api("");
      $("token-box").hidden = true;
      init(data.meta, data.instances);
    } catch (e) {
      status(e.message, "error");
    }
  }

  document.addEventListener("keydown", (e) => {
    if (!S.annotator || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "radio"))) {
      if (e.key === "Escape" && t.tagName === "TEXTAREA") t.blur();
      return;
    }
    if (t && t.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return; // the button acts
    const actions = {
      ArrowRight: () => go(S.pos + 1), Enter: () => go(S.pos + 1), ArrowLeft: () => go(S.pos - 1),
      ArrowUp: () => setActive(SCALES[0]), ArrowDown: () => setActive(SCALES[1]),
      u: nextUnrated, n: () => $("note").focus(),
    };
    if (/^[1-5]$/.test(e.key)) rate(S.active, Number(e.key));
    else if (actions[e.key]) actions[e.key]();
    else return;
    e.preventDefault();
  });
  $("note").addEventListener("input", () => {
    const id = S.order[S.pos];
    S.ratings[id] = { ...(S.ratings[id] || {}), note: $("note").value };
    changed();
  });
  $("prev").addEventListener("click", () => go(S.pos - 1));
  $("next").addEventListener("click", () => go(S.pos + 1));
  $("unrated").addEventListener("click", nextUnrated);
  $("export").addEventListener("click", exportCsv);
  $("token-box").addEventListener("submit", (e) => {
    e.preventDefault();
    S.token = $("token").value.trim();
    sessionStorage.setItem("humanllm-token", S.token);
    start();
  });
  start();
})();
