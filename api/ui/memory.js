// A session's memory on the page: core facts (edit, pin, unpin), archival insert, and the
// context pieces each chat turn used. Uses app.js's helpers (el, api, guarded, state, ...).
"use strict";

const MEMORY_INPUTS = ["#core-key", "#core-value", "#core-add", "#archival-text", "#archival-add"];

function corePath(key = null) {
  const base = `/v1/sessions/${encodeURIComponent(state.session.id)}/core`;
  return key === null ? base : `${base}/${encodeURIComponent(key)}`;
}

/** One pinned fact: its value is an input; Enter or Save replaces it, Unpin deletes it. */
function coreRow(key, value) {
  const input = el("input", { value, required: true, "aria-label": `core fact ${key}`, className: "core-value" });
  const save = () => guarded(async () => {
    const text = input.value.trim();
    if (!text) throw new Error(`core fact "${key}" needs a value (or unpin it)`);
    renderCore((await api(corePath(key), { method: "PUT", json: { value: text } })).core);
    say(`Saved core fact ${key}.`);
  });
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); save(); } });
  return el("li", { dataset: { key } }, el("span", { className: "core-key" }, key), input,
    el("button", { type: "button", className: "core-save", onclick: save }, "Save"),
    el("button", { type: "button", className: "danger core-delete", "aria-label": `unpin ${key}`,
                   onclick: () => guarded(async () => {
                     renderCore((await api(corePath(key), { method: "DELETE" })).core);
                     say(`Unpinned core fact ${key}.`);
                   }) }, "Unpin"));
}

function renderCore(core) {
  const keys = Object.keys(core);
  $("#core-rows").replaceChildren(...(keys.length ? keys.map((k) => coreRow(k, core[k]))
    : [el("li", { className: "muted" }, "No core facts yet.")]));
}

function enableMemory(on) {
  for (const sel of MEMORY_INPUTS) $(sel).disabled = !on;
}

/** The memory a turn was answered from: its context pieces (tier, source, tokens) and citations. */
function turnContext(retrieval, citations, collection) {
  const session = (retrieval && retrieval.session) || { pieces: [] };
  const pieces = session.pieces || [];
  const passages = citations.filter((c) => !String(c.document_id).startsWith("session:"));
  const summary = `Context: ${pieces.length} memory piece${pieces.length === 1 ? "" : "s"}`
    + (session.budget ? ` · ${session.n_tokens}/${session.budget} tokens` : "")
    + ` · ${citations.length} cited`;
  const rows = pieces.map((p) => el("li", { dataset: { tier: p.tier, source: p.source } },
    el("span", { className: `pill tier-${p.tier}` }, p.tier),
    ` ${p.source}`, p.kind !== p.tier ? el("span", { className: "muted" }, ` (${p.kind})`) : null,
    el("span", { className: "muted" }, ` · chars ${p.start}–${p.end} · ${p.tokens} tokens`
       + (p.score === null || p.score === undefined ? "" : ` · score ${Number(p.score).toFixed(3)}`))));
  const cited = citations.map((c, i) => (passages.includes(c) ? citationChip(c, i + 1, collection)
    : el("span", { className: "chip memory-chip", title: c.text }, el("b", {}, `[${i + 1}]`), c.title,
         el("span", { className: "snippet" }, ` · ${c.text.length > 48 ? `${c.text.slice(0, 48)}…` : c.text}`))));
  return el("details", { className: "turn-context" }, el("summary", {}, summary),
    el("ul", { className: "pieces", "aria-label": "context pieces" }, rows.length ? rows : el("li", { className: "muted" }, "none")),
    cited.length ? el("div", { className: "chips" }, cited) : null);
}

function setupMemory() {
  $("#core-form").addEventListener("submit", (event) => guarded(async () => {
    event.preventDefault();
    const key = $("#core-key").value.trim();
    const value = $("#core-value").value.trim();
    if (!state.session || !key || !value) throw new Error("a core fact needs a session, a key and a value");
    renderCore((await api(corePath(key), { method: "PUT", json: { value } })).core);
    $("#core-key").value = $("#core-value").value = "";
    say(`Pinned core fact ${key}.`);
  }));
  $("#archival-form").addEventListener("submit", (event) => guarded(async () => {
    event.preventDefault();
    const text = $("#archival-text").value.trim();
    if (!state.session || !text) throw new Error("archival memory needs a session and some text");
    const record = await api(`/v1/sessions/${encodeURIComponent(state.session.id)}/archival`,
                             { method: "POST", json: { text } });
    $("#archival-text").value = "";
    $("#archival-status").textContent = `Stored as archival record ${record.id}.`;
    $("#archival-status").dataset.id = record.id;
    say(`Stored archival record ${record.id}.`);
  }));
}
