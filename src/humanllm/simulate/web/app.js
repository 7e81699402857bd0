// The simulator page: pick a genome user (or describe a person), pick an application, fill its
// inputs, see the simulated answers side by side. Plain DOM, no build step, no network beyond
// this server. Model output is inserted as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 20;

// How each application's fields look on the page and travel in the request body.
//   text/area: a string; lines: one string per line; blocks: texts separated by a "---" line;
//   reviews: "ON WHAT | TEXT" per line -> {item, text}; purchases: "TITLE | STARS" -> {item, rating}.
const APPS = {
  profile: {
    help: "Profile generation: the person's persona becomes a detailed profile.",
    about: ["persona"], fields: [],
  },
  explain: {
    help: "Human explainer: what this person would do, think or feel in a situation, and why.",
    about: ["persona", "profile"],
    fields: [
      { name: "scenario", label: "Scenario", type: "area", rows: 4, ph: "What happens around the person." },
      { name: "question", label: "Question", type: "text", ph: "Why does the person ...?" },
    ],
  },
  write: {
    help: "Personalized writing: a new text in the person's voice, from earlier texts or a style description.",
    about: [],
    fields: [
      { name: "topic", label: "Topic", type: "text", ph: "What to write about." },
      { name: "kind", label: "Kind of text", type: "text", value: "social-media post" },
      { name: "samples", label: "Earlier texts (separate them with a line of ---)", type: "blocks", rows: 6 },
      { name: "style", label: "Writing style", type: "area", rows: 3, ph: "Optional when earlier texts are given." },
    ],
  },
  comment: {
    help: "Personalized commenting: the comment this person would write under a new post.",
    about: [],
    fields: [
      { name: "post", label: "New post (or item)", type: "area", rows: 4 },
      { name: "history", label: "Earlier comments, one per line: ON WHAT | TEXT", type: "reviews", rows: 5 },
      { name: "kind", label: "Kind", type: "choice", options: ["comment", "review"] },
    ],
  },
  select: {
    help: "Item selection: which candidate this person picks (always one of the candidates).",
    about: ["persona", "profile"],
    fields: [
      { name: "candidates", label: "Candidates, one title per line", type: "lines", rows: 5 },
      { name: "history", label: "Bought before, one per line: TITLE | STARS", type: "purchases", rows: 4 },
    ],
  },
  scenario: {
    help: "Scenario generation: the plot of a situation from its characters, time and place.",
    about: [],
    fields: [
      { name: "characters", label: "Characters, one per line: NAME: DESCRIPTION", type: "lines", rows: 4 },
      { name: "time", label: "Time", type: "text" },
      { name: "place", label: "Place", type: "text" },
    ],
  },
};

// results: the last answer (or error) of each application, shown only on that application's tab.
const state = { app: "profile", offset: 0, total: 0, inputs: null, drafts: {}, results: {}, busy: null, person: 0, token: sessionStorage.getItem("humanllm-token") || "" };

class ApiError extends Error {}

async function api(path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const res = await fetch(path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) $("token-box").hidden = false;
  if (!res.ok) throw new ApiError((data && data.error && data.error.message) || res.status + " " + res.statusText);
  return data;
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c);
  return node;
}

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// --- fields: to and from the request body -------------------------------------------------------

function toText(field, value) {
  if (value === undefined || value === null) return "";
  const flat = (s) => String(s || "").replace(/\s+/g, " ").trim();
  switch (field.type) {
    case "lines": return value.map((v) => (typeof v === "string" ? v : v.name + (v.description ? ": " + v.description : ""))).join("\n");
    case "blocks": return value.join("\n---\n");
    case "reviews": return value.map((r) => (r.item ? flat(r.item) + " | " : "") + flat(r.text)).join("\n");
    case "purchases": return value.map((r) => flat(r.item) + (r.rating != null ? " | " + r.rating : "")).join("\n");
    default: return String(value);
  }
}

function fromText(field, text) {
  const lines = text.split("\n").map((s) => s.trim()).filter(Boolean);
  const split = (s) => { const i = s.indexOf("|"); return i < 0 ? ["", s] : [s.slice(0, i).trim(), s.slice(i + 1).trim()]; };
  switch (field.type) {
    case "lines": return lines;
    case "blocks": return text.split(/^\s*---\s*$/m).map((s) => s.trim()).filter(Boolean);
    case "reviews": return lines.map((s) => { const [item, t] = split(s); return { item, text: t }; });
    case "purchases": return lines.map((s) => {
      const i = s.lastIndexOf("|");
      const stars = i < 0 ? NaN : Number(s.slice(i + 1));
      return i < 0 || Number.isNaN(stars) ? { item: s } : { item: s.slice(0, i).trim(), rating: stars };
    });
    default: return text.trim() || null;
  }
}

function saveDraft() {
  const draft = {};
  for (const f of APPS[state.app].fields) {
    const node = $("f-" + f.name);
    if (node) draft[f.name] = node.value;
  }
  state.drafts[state.app] = draft;
}

function renderFields() {
  const spec = APPS[state.app];
  $("app-help").textContent = spec.help + (spec.about.length ? " Uses the person's " + spec.about.join(" / ") + "." : "");
  const box = $("fields");
  box.replaceChildren();
  const draft = state.drafts[state.app] || {};
  const given = (state.inputs && state.inputs[state.app]) || {};
  for (const f of spec.fields) {
    let input;
    if (f.type === "choice") {
      input = el("select", {}, ...f.options.map((o) => el("option", { value: o, textContent: o })));
    } else if (f.type === "text") {
      input = el("input", { type: "text" });
    } else {
      input = el("textarea", { rows: f.rows || 3 });
    }
    input.id = "f-" + f.name;
    input.name = f.name;
    if (f.ph) input.placeholder = f.ph;
    input.value = draft[f.name] !== undefined ? draft[f.name] : given[f.name] !== undefined ? toText(f, given[f.name]) : f.value || "";
    box.append(el("label", { htmlFor: input.id }, f.label, input));
  }
}

function selectApp(name) {
  saveDraft();
  state.app = name;
  for (const b of $("apps").children) b.setAttribute("aria-selected", String(b.dataset.app === name));
  renderFields();
  showResult();
}

// --- people ----------------------------------------------------------------------------------

async function loadUsers() {
  const params = new URLSearchParams({ offset: state.offset, limit: PAGE });
  if ($("user-search").value.trim()) params.set("q", $("user-search").value.trim());
  if ($("user-source").value) params.set("source", $("user-source").value);
  const page = await api("/api/users?" + params);
  state.total = page.total;
  const list = $("user-list");
  list.replaceChildren(...page.users.map((u) => {
    const b = el("button", { type: "button" }, el("span", { className: "who", textContent: u.source + " / " + u.user_id }), el("span", { className: "what", textContent: u.persona.slice(0, 140) }));
    b.dataset.source = u.source;
    b.dataset.user = u.user_id;
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => pickUser(u.source, u.user_id, b).catch((e) => setStatus(e.message, true)));
    return el("li", {}, b);
  }));
  const last = Math.min(state.offset + PAGE, state.total);
  $("page-info").textContent = state.total ? (state.offset + 1) + "-" + last + " of " + state.total : "no users match";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = last >= state.total;
}

async function pickUser(source, userId, button) {
  const data = await api("/api/users/" + encodeURIComponent(source) + "/" + encodeURIComponent(userId));
  const p = data.person;
  for (const b of $("user-list").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
  state.inputs = data.inputs;
  state.drafts = {};
  state.results = {};
  state.person += 1;  // an answer still on its way belongs to the previous person: dropped
  $("person-title").textContent = p.source + " / " + p.user_id + " (" + p.platform + ")";
  $("persona").value = p.persona;
  $("profile").value = p.profile;
  $("writing-style").textContent = p.writing_style ? "Writing style: " + p.writing_style : "";
  $("records").replaceChildren(...p.records.slice(-5).map((r) => el("li", { textContent: (r.item ? "On " + r.item + (r.rating != null ? " (" + r.rating + "/5)" : "") + ": " : "") + [r.title, r.text].filter(Boolean).join(" — ").slice(0, 400) })));
  const comments = (p.comments || []).slice(-5);
  $("comments").replaceChildren(...comments.map((c) => el("li", { textContent: "On " + c.item + ": " + c.text.slice(0, 400) })));
  $("comments-title").hidden = comments.length === 0;
  $("person-more").hidden = false;
  renderFields();
  showResult();
  setStatus("Simulating " + p.source + " / " + p.user_id + ".");
}

// --- simulate ----------------------------------------------------------------------------------

function requestBody() {
  const spec = APPS[state.app];
  const body = { n: Number($("n").value) || 1, temperature: Number($("temperature").value) };
  for (const who of spec.about) {
    const v = $(who).value.trim();
    if (v) body[who] = v;
  }
  for (const f of spec.fields) {
    const v = fromText(f, $("f-" + f.name).value);
    if (v !== null && !(Array.isArray(v) && !v.length)) body[f.name] = v;
  }
  return body;
}

function renderAnswers(result) {
  const cards = result.samples.map((s, i) => {
    const card = el("article", { className: "answer" }, el("header", { textContent: "Answer " + (i + 1) + " of " + result.samples.length + " · seed " + s.seed + (s.finish_reason === "length" ? " · cut" : "") }));
    if (result.application === "select") card.append(el("div", { className: "choice", textContent: "→ " + s.item }));
    card.append(el("div", { className: "text", textContent: s.text }));
    return card;
  });
  $("answers").replaceChildren(...cards);
  $("prompt").textContent = "[system]\n" + result.prompt.system + "\n\n[user]\n" + result.prompt.human;
  $("prompt-box").hidden = false;
}

// What the selected application's tab shows: its own last answer or error, a running request's
// progress, or nothing; never another application's answer or prompt.
function showResult() {
  const busy = state.busy && state.busy.app === state.app;
  $("run").disabled = Boolean(state.busy);
  $("answers").setAttribute("aria-busy", String(Boolean(busy)));
  if (busy) {
    $("answers").replaceChildren();
    $("prompt-box").hidden = true;
    showProgress();
    return;
  }
  const r = state.results[state.app];
  if (r && r.result) renderAnswers(r.result);
  else { $("answers").replaceChildren(); $("prompt-box").hidden = true; $("prompt").textContent = ""; }
  if (r) setStatus(r.status, r.error);
  else if (state.busy) setStatus("Simulating " + state.busy.app + " in its tab ...");
  else setStatus("");
}

function showProgress() {
  const seconds = Math.floor((Date.now() - state.busy.t0) / 1000);
  $("status").className = "busy";
  $("status").replaceChildren(el("span", { className: "spinner", ariaHidden: "true" }), "Simulating " + state.busy.app + " ... " + seconds + " s elapsed (a CPU model can take a minute)");
}

async function simulate(event) {
  event.preventDefault();
  if (state.busy) return;
  const app = state.app;
  const person = state.person;
  const body = requestBody();
  state.busy = { app, t0: Date.now(), timer: setInterval(() => { if (state.busy && state.busy.app === state.app) showProgress(); }, 1000) };
  delete state.results[app];
  showResult();
  try {
    const result = await api("/api/" + app, body);
    if (person === state.person) state.results[app] = { result, status: result.samples.length + " answer(s) in " + result.elapsed_s.toFixed(2) + " s from " + result.model + "." };
  } catch (e) {
    if (person === state.person) state.results[app] = { result: null, status: e.message, error: true };
  } finally {
    clearInterval(state.busy.timer);
    state.busy = null;
    showResult();
  }
}

// --- start -----------------------------------------------------------------------------------

async function start() {
  let info;
  try {
    info = await api("/api/info");
  } catch (e) {
    setStatus(e.message, true);
    return;
  }
  $("token-box").hidden = true;
  $("model").textContent = "model: " + info.model;
  $("n").max = info.max_n;
  $("n").value = Math.min(3, info.max_n);
  if (info.genome) {
    $("users-box").hidden = false;
    for (const s of info.genome.sources) $("user-source").append(el("option", { value: s, textContent: s }));
    await loadUsers();
  } else {
    $("no-genome").hidden = false;
  }
}

function init() {
  for (const name of Object.keys(APPS)) {
    const b = el("button", { type: "button", textContent: name });
    b.dataset.app = name;
    b.setAttribute("role", "tab");
    b.addEventListener("click", () => selectApp(name));
    $("apps").append(b);
  }
  selectApp(state.app);
  $("app-form").addEventListener("submit", simulate);
  $("token-box").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("humanllm-token", state.token);
    start();
  });
  let timer = null;
  $("user-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.offset = 0; loadUsers().catch((e) => setStatus(e.message, true)); }, 250); });
  $("user-source").addEventListener("change", () => { state.offset = 0; loadUsers().catch((e) => setStatus(e.message, true)); });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadUsers().catch((e) => setStatus(e.message, true)); });
  $("next").addEventListener("click", () => { state.offset += PAGE; loadUsers().catch((e) => setStatus(e.message, true)); });
  start();
}

document.addEventListener("DOMContentLoaded", init);
