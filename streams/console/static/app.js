// wirewatch alert page: server-sent events from /api/stream, rendered with DOM nodes only.
// Every alert field is someone else's text: it is only ever set with textContent (never innerHTML),
// and links are made only from http(s) URLs.
"use strict";

const RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };
const state = { alerts: new Map(), holds: [], open: new Set(), fresh: new Set() };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

function link(url, text) {
  const href = safeUrl(url);
  return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text) : el("span", {}, text);
}

const list = (value) => (Array.isArray(value) ? value.map(String) : []);
const severityOf = (alert) => (String(alert.severity) in RANK ? String(alert.severity) : "none");
const searchable = (alert) =>
  [String(alert.title || ""), ...list((alert.matches || []).map((m) => (m && m.term) || ""))].join(" ").toLowerCase();

// Title with the matched terms highlighted: offsets of title matches when they fit, else the term's text.
function highlighted(alert) {
  const title = String(alert.title || "");
  const spans = [];
  for (const match of Array.isArray(alert.matches) ? alert.matches : []) {
    if (!match || typeof match !== "object") continue;
    let start = Number(match.start), end = Number(match.end);
    const term = String(match.term || "");
    if (!(match.field === "title" && Number.isInteger(start) && Number.isInteger(end) && start >= 0 &&
          end <= title.length && start < end)) {
      start = term ? title.toLowerCase().indexOf(term.toLowerCase()) : -1;
      end = start + term.length;
    }
    if (start >= 0 && end > start) spans.push([start, end]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  const node = el("span", { class: "title" });
  let at = 0;
  for (const [start, end] of spans) {
    if (start < at) continue;
    node.append(title.slice(at, start), el("mark", {}, title.slice(start, end)));
    at = end;
  }
  node.append(title.slice(at));
  return node;
}

function holdsOf(alert) {
  const id = String(alert.alert_id), event = alert.event_id ? String(alert.event_id) : null;
  const text = searchable(alert);
  return state.holds.filter((h) =>
    h.key === `ack:${id}` || h.key === `mute:alert:${id}` || (event && h.key === `mute:event:${event}`) ||
    (h.scope === "pattern" && text.includes(String(h.target).toLowerCase())));
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json", "X-Wirewatch": "1" }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const reason = await response.json().catch(() => ({}));
    window.alert(`wirewatch: ${reason.error || response.status}`);
  }
}

function timeline(entry) {
  const rows = entry.versions.slice().reverse().map((v) =>
    el("tr", {}, el("td", {}, `v${v.version}`), el("td", {}, v.received_at || ""), el("td", {}, v.severity),
       el("td", {}, v.reason), el("td", {}, (v.changes || []).join(", ") || (v.version === 1 ? "first alert" : ""))));
  return el("table", { class: "timeline" },
            el("thead", {}, el("tr", {}, ...["version", "received", "severity", "reason", "what changed"]
              .map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
}

function details(entry, holds) {
  const a = entry.alert;
  const sources = list(a.sources);
  const matches = (Array.isArray(a.matches) ? a.matches : []).filter((m) => m && typeof m === "object");
  const sameEvent = a.event_id ? [...state.alerts.values()].filter(
    (e) => e.alert_id !== entry.alert_id && e.alert.event_id === a.event_id) : [];
  const silenced = holds.length > 0;
  return el("div", { class: "details" },
    el("h3", {}, "Timeline"), timeline(entry),
    el("h3", {}, "Matches"),
    el("ul", { class: "matches" }, ...matches.map((m) => el("li", {}, `${m.term} (${m.category}, ${m.field})`))),
    el("h3", {}, `Outlets (${sources.length}) and copies (${a.copies ?? "?"})`),
    el("p", { class: "outlets" }, sources.join(", ")),
    el("h3", {}, "Articles"),
    el("ul", { class: "articles" }, ...entry.articles.map((x) => el("li", {}, link(x.url, x.title || x.url),
                                                                    ` — ${x.source}`))),
    list(a.articles).length ? el("p", { class: "meta" }, `${list(a.articles).length} article ids in the alert`) : null,
    sameEvent.length ? el("h3", {}, "Other reports of this event") : null,
    sameEvent.length ? el("ul", {}, ...sameEvent.map((e) => el("li", {}, link(e.alert.url, String(e.alert.title || "")),
      e.alert.reason === "merged" ? ` (merged into ${e.alert.merged_into})` : ""))) : null,
    holds.length ? el("p", { class: "holds" }, holds.map((h) => h.kind === "ack" ? `acknowledged by ${h.by} at ${h.at}`
      : `muted${h.until ? " until " + h.until : ""} by ${h.by}${h.scope === "pattern" ? ` (pattern “${h.target}”)` : ""}`)
      .join("; ")) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", "data-action": "ack", onclick: () => post("/api/ack", { alert_id: a.alert_id }) },
         "Acknowledge"),
      el("button", { type: "button", "data-action": "mute", onclick: () =>
        post("/api/mute", { scope: "alert", target: a.alert_id, duration: "4h" }) }, "Mute 4h"),
      el("button", { type: "button", onclick: () => post("/api/mute", { scope: "alert", target: a.alert_id,
                                                                           duration: "24h" }) }, "Mute 24h"),
      a.event_id ? el("button", { type: "button", onclick: () => post("/api/mute", { scope: "event", target: a.event_id,
                                                                                      duration: "24h" }) }, "Mute event 24h") : null,
      silenced ? el("button", { type: "button", "data-action": "unmute", onclick: () =>
        Promise.all(holds.filter((h) => h.scope !== "pattern").map((h) => post("/api/unmute", { key: h.key }))) },
        "Lift mute/ack") : null));
}

function row(entry) {
  const a = entry.alert, severity = severityOf(a), holds = holdsOf(a);
  const open = state.open.has(entry.alert_id);
  const classes = ["alert", `sev-${severity}`];
  if (holds.length) classes.push("silenced");
  if (state.fresh.has(entry.alert_id)) classes.push("fresh");
  const toggle = () => { open ? state.open.delete(entry.alert_id) : state.open.add(entry.alert_id); render(); };
  return el("li", { class: classes.join(" "), "data-alert-id": entry.alert_id, "data-severity": severity },
    el("button", { type: "button", class: "summary", "aria-expanded": String(open), onclick: toggle },
      el("span", { class: "badge" }, severity), highlighted(a),
      el("span", { class: "meta" },
        a.casualties ? `${a.casualties} casualties · ` : "", `${list(a.sources).length} outlets · v${a.version} ${a.reason}`,
        ...list(a.categories).slice(0, 4).map((c) => el("span", { class: "tag" }, c)),
        holds.length ? el("span", { class: "tag" }, holds.some((h) => h.kind === "ack") ? "acknowledged" : "muted") : null)),
    open ? details(entry, holds) : null);
}

function filters() {
  return { severity: RANK[$("f-severity").value] || 0, category: $("f-category").value,
           language: $("f-language").value, source: $("f-source").value.toLowerCase(),
           text: $("f-text").value.trim().toLowerCase(), silenced: $("f-silenced").checked };
}

function matches(entry, f) {
  const a = entry.alert;
  if (RANK[severityOf(a)] < f.severity) return false;
  if (f.category && !list(a.categories).includes(f.category)) return false;
  if (f.language && !list(a.languages).includes(f.language)) return false;
  if (f.source && ![...list(a.sources), String(a.source || "")].some((s) => s.toLowerCase() === f.source)) return false;
  if (f.text && !searchable(a).includes(f.text)) return false;
  return f.silenced || holdsOf(a).length === 0;
}

function fillSelect(id, values) {
  const select = $(id), current = select.value;
  const wanted = ["", ...[...values].sort()];
  if ([...select.options].map((o) => o.value).join("\n") === wanted.join("\n")) return;
  select.replaceChildren(...wanted.map((v) => el("option", { value: v }, v || "any")));
  select.value = wanted.includes(current) ? current : "";
}

function render() {
  const entries = [...state.alerts.values()];
  const categories = new Set(), languages = new Set(), sources = new Set();
  for (const e of entries) {
    list(e.alert.categories).forEach((c) => categories.add(c));
    list(e.alert.languages).forEach((l) => languages.add(l));
    list(e.alert.sources).forEach((s) => sources.add(s.toLowerCase()));
  }
  fillSelect("f-category", categories); fillSelect("f-language", languages); fillSelect("f-source", sources);
  const f = filters();
  const shown = entries.filter((e) => matches(e, f)).sort((x, y) => y.order - x.order);
  $("alerts").replaceChildren(...shown.map(row));
  $("empty").hidden = shown.length > 0;
  $("count").textContent = `${shown.length} of ${entries.length} open alerts`;
  $("hold-list").replaceChildren(...state.holds.filter((h) => h.kind === "mute").map((h) =>
    el("li", {}, `${h.scope} ${h.target}${h.until ? " until " + h.until : ""} `,
       el("button", { type: "button", onclick: () => post("/api/unmute", { key: h.key }) }, "unmute"))));
}

let order = 0;
function upsert(entry, fresh) {
  entry.order = ++order;
  state.alerts.set(entry.alert_id, entry);
  if (fresh) {
    state.fresh.add(entry.alert_id);
    setTimeout(() => { state.fresh.delete(entry.alert_id); }, 2000);
  }
}

function connect() {
  const stream = new EventSource("/api/stream");
  const status = $("status");
  stream.addEventListener("open", () => { status.textContent = "live"; status.className = "status live"; });
  stream.addEventListener("error", () => { status.textContent = "reconnecting"; status.className = "status"; });
  stream.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    state.alerts.clear();
    for (const entry of data.alerts.slice().reverse()) upsert(entry, false);
    state.holds = data.holds;
    render();
  });
  stream.addEventListener("alert", (event) => { upsert(JSON.parse(event.data), true); render(); });
  stream.addEventListener("holds", (event) => { state.holds = JSON.parse(event.data).holds; render(); });
  stream.addEventListener("gone", (event) => { state.alerts.delete(JSON.parse(event.data)); render(); });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["f-severity", "f-category", "f-language", "f-source", "f-silenced"]) $(id).addEventListener("change", render);
  $("f-text").addEventListener("input", render);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("mute-pattern").addEventListener("submit", (event) => {
    event.preventDefault();
    post("/api/mute", { scope: "pattern", target: $("mute-text").value, duration: $("mute-for").value });
    $("mute-text").value = "";
  });
  connect();
});
