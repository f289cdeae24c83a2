// ragmem's page: plain JS over the /v1 API (no build step, nothing loaded from elsewhere).
"use strict";

const RETRIEVERS = ["hybrid", "bm25", "dense", "fusion", "crag", "adaptive", "hipporag"];
const TABS = ["collections", "documents", "ask", "compare", "benchmarks", "sessions"];
const KEY_STORE = "ragmem.apiKey";
const state = { collection: sessionStorage.getItem("ragmem.collection") || "", collections: [],
                session: null, sessions: [], documentsAsked: 0, collectionsAsked: 0 };

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An element with attributes (on* are listeners) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function say(message, isError = false) {
  const box = $("#status");
  box.textContent = message;
  box.classList.toggle("error", isError);
}

function authHeaders(extra = {}) {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function errorText(response) {
  try {
    const body = await response.json();
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return `${response.status}: ${detail}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

/** fetch a /v1 path with the API key; JSON in and out; throws with the server's detail. */
async function api(path, { method = "GET", json, body, stream = false } = {}) {
  const options = { method, headers: authHeaders(json !== undefined ? { "Content-Type": "application/json" } : {}) };
  if (json !== undefined) options.body = JSON.stringify(json);
  else if (body !== undefined) options.body = body;
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await errorText(response));
  if (stream) return response;
  return response.status === 204 ? null : response.json();
}

const enc = encodeURIComponent;
const collectionPath = (name = state.collection) => `/v1/collections/${enc(name)}`;

function needCollection() {
  if (!state.collection) throw new Error("create or pick a collection first");
  return state.collection;
}

async function guarded(work) {
  try {
    await work();
  } catch (error) {
    say(error.message || String(error), true);
  }
}

// -- tabs ------------------------------------------------------------------------------
function showTab(name, focus = false) {
  if (!TABS.includes(name)) name = "collections";
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`#panel-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  const load = { collections: loadCollections, documents: loadDocuments, benchmarks: loadDatasets,
                 sessions: loadSessions }[name];
  if (load) guarded(load);
}

function setupTabs() {
  for (const button of $$(".tabs [role=tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
    button.addEventListener("keydown", (event) => {
      const at = TABS.indexOf(button.dataset.tab);
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) showTab(TABS[(at + step + TABS.length) % TABS.length], true);
      if (event.key === "Home") showTab(TABS[0], true);
      if (event.key === "End") showTab(TABS[TABS.length - 1], true);
    });
  }
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
}

// -- collections -----------------------------------------------------------------------
function setCollection(name) {
  state.collection = name;
  sessionStorage.setItem("ragmem.collection", name);
  $("#current-collection").value = name;
}

async function loadCollections() {
  const asked = ++state.collectionsAsked;
  const { collections } = await api("/v1/collections");
  if (asked !== state.collectionsAsked) return;
  state.collections = collections;
  const names = collections.map((c) => c.name);
  if (!names.includes(state.collection)) state.collection = names[0] || "";
  const picker = $("#current-collection");
  picker.replaceChildren(...(names.length ? names.map((n) => el("option", { value: n }, n))
                                          : [el("option", { value: "" }, "no collections yet")]));
  setCollection(state.collection);
  const rows = collections.map((c) => el("tr", { dataset: { name: c.name } },
    el("td", {}, el("button", { type: "button", className: "link-button", title: "open its documents",
                                onclick: () => { setCollection(c.name); showTab("documents"); } }, c.name)),
    el("td", { className: "num" }, c.documents), el("td", { className: "num" }, c.chunks),
    el("td", { className: "muted" }, `${c.embedder} (${c.dim})`),
    el("td", { className: "actions" }, el("button", { type: "button", className: "danger",
      "aria-label": `delete collection ${c.name}`, onclick: () => guarded(() => deleteCollection(c.name)) }, "Delete"))));
  $("#collection-rows").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: 5, className: "empty" }, "No collections yet: create one above."))]));
}

async function deleteCollection(name) {
  if (!confirm(`Delete collection "${name}" with all its documents?`)) return;
  await api(collectionPath(name), { method: "DELETE" });
  say(`Deleted collection ${name}.`);
  await loadCollections();
}

// -- documents -------------------------------------------------------------------------
async function loadDocuments() {
  const tbody = $("#document-rows");
  if (!state.collection) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, className: "empty" }, "Pick a collection first.")));
    return;
  }
  const asked = ++state.documentsAsked;  // a slower, older answer must not overwrite a newer one
  const { documents } = await api(`${collectionPath()}/documents?limit=1000`);
  if (asked !== state.documentsAsked) return;
  const rows = documents.map((d) => el("tr", { dataset: { id: d.id } },
    el("td", {}, d.title || d.id), el("td", { className: "muted" }, d.id),
    el("td", { className: "num" }, d.chars), el("td", { className: "num" }, d.chunks),
    el("td", {}, el("span", { className: `pill ${d.status}` }, d.status)),
    el("td", { className: "actions" },
      el("button", { type: "button", className: "open-doc", "aria-label": `open ${d.title || d.id}`,
                     onclick: () => guarded(() => openDocument(d.id)) }, "Open"),
      el("button", { type: "button", className: "danger delete-doc", "aria-label": `delete ${d.title || d.id}`,
                     onclick: () => guarded(() => deleteDocument(d.id)) }, "Delete"))));
  tbody.replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: 6, className: "empty" }, `No documents in ${state.collection} yet.`))]));
}

async function deleteDocument(id) {
  await api(`${collectionPath()}/documents/${enc(id)}`, { method: "DELETE" });
  say(`Deleted document ${id}.`);
  await loadDocuments();
}

function showProgress(prefix, job) {
  const total = job.progress.total || 0;
  const pct = job.status === "done" ? 100 : total ? Math.round((100 * job.progress.done) / total) : 0;
  $(`#${prefix}-fill`).style.width = `${pct}%`;
  $(`#${prefix}-bar`).setAttribute("aria-valuenow", String(pct));
  const pill = $(`#${prefix}-state`);
  pill.textContent = job.status === "running" && total ? `${job.status} ${job.progress.done}/${total}` : job.status;
  pill.className = `pill ${job.status}`;
  pill.dataset.status = job.status;
}

/** Poll `path` until the job is done or failed, showing its progress. */
async function pollJob(path, prefix, interval = 400) {
  for (;;) {
    const job = await api(path);
    showProgress(prefix, job);
    if (job.status === "done" || job.status === "failed") return job;
    await sleep(interval);
  }
}

async function uploadFiles(files) {
  const name = needCollection();
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  $("#upload-job").hidden = false;
  $("#job-label").textContent = `Uploading ${files.length} file${files.length > 1 ? "s" : ""} to ${name}`;
  showProgress("job", { status: "queued", progress: { done: 0, total: 0 } });
  const accepted = await api(`${collectionPath(name)}/documents`, { method: "POST", body: form });
  await loadDocuments();
  const counts = accepted.documents.map((d) => d.status).join(", ");
  if (!accepted.job_id) {
    showProgress("job", { status: "done", progress: { done: 0, total: 0 } });
    say(`Nothing new to index (${counts}).`);
    return;
  }
  $("#job-label").textContent = `Indexing ${accepted.documents.length} document(s) in ${name}`;
  const job = await pollJob(`/v1/jobs/${enc(accepted.job_id)}`, "job");
  if (job.status === "failed") throw new Error(`indexing failed: ${job.error}`);
  say(`Indexed ${accepted.documents.length} document(s): ${counts}.`);
  await loadDocuments();
}

function setupUpload() {
  const zone = $("#dropzone");
  const input = $("#file-input");
  const start = (files) => guarded(() => uploadFiles(Array.from(files)));
  input.addEventListener("change", () => { start(input.files); input.value = ""; });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start(event.dataTransfer.files);
  });
  $("#refresh-documents").addEventListener("click", () => guarded(loadDocuments));
}

/** Open a document's text; with `span` ({start, end} in characters), highlight it and scroll to it. */
async function openDocument(id, span = null, collection = state.collection) {
  const doc = await api(`${collectionPath(collection)}/documents/${enc(id)}?text=true`);
  const chars = Array.from(doc.text || "");  // offsets count code points, as Python's do
  const pre = $("#doc-text");
  $("#doc-title").textContent = doc.title || doc.id;
  $("#doc-meta").textContent = `${doc.id} · ${doc.source} · ${doc.chars} characters · ${doc.chunks} chunks`
    + (span ? ` · cited characters ${span.start}–${span.end}` : "");
  if (span) {
    const mark = el("mark", { className: "cited", id: "cited-span", dataset: { start: span.start, end: span.end } },
                    chars.slice(span.start, span.end).join(""));
    pre.replaceChildren(chars.slice(0, span.start).join(""), mark, chars.slice(span.end).join(""));
  } else {
    pre.replaceChildren(doc.text || "");
  }
  const dialog = $("#doc-dialog");
  if (!dialog.open) dialog.showModal();
  const mark = $("#cited-span", pre);
  if (mark) mark.scrollIntoView({ block: "center" });
  else pre.scrollTop = 0;
}

// -- ask -------------------------------------------------------------------------------
function fillRetrieverPickers() {
  for (const picker of $$(".retriever-picker")) {
    const options = RETRIEVERS.map((r) => el("option", { value: r }, r));
    if (picker.dataset.optional) options.unshift(el("option", { value: "" }, "none"));
    else if (!picker.classList.contains("compare-picker")) options.unshift(el("option", { value: "" }, "server default"));
    picker.replaceChildren(...options);
    picker.value = picker.dataset.default || "";
  }
}

/** POST an ask with stream=true and call back on each SSE event. */
async function streamAsk(collection, body, onEvent) {
  const response = await api(`${collectionPath(collection)}/ask`, { method: "POST", json: { ...body, stream: true },
                                                                   stream: true });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

function citationChip(citation, n, collection) {
  return el("button", { type: "button", className: "chip", title: citation.text,
                        dataset: { doc: citation.document_id, start: citation.start, end: citation.end, n },
                        "aria-label": `citation ${n}: ${citation.title}, characters ${citation.start} to ${citation.end}`,
                        onclick: () => guarded(() => openDocument(citation.document_id, citation, collection)) },
            el("b", {}, `[${n}]`), citation.title || citation.document_id,
            el("span", { className: "snippet" }, ` · ${citation.text.length > 48 ? `${citation.text.slice(0, 48)}…` : citation.text}`));
}

const isScalar = (v) => v === null || ["string", "number", "boolean"].includes(typeof v);

/** A trace value, readable: lists of scalars as "a, b", flat objects as "k: v · k: v", else JSON. */
function valueView(value) {
  if (isScalar(value)) return String(value);
  if (Array.isArray(value) && value.every(isScalar)) return value.join(", ");
  if (!Array.isArray(value) && Object.values(value).every(isScalar)) {
    return Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(" · ");
  }
  return el("pre", {}, JSON.stringify(value, null, 2));
}

function passageList(results, collection) {
  return el("ol", { className: "passages" }, results.map((p) => el("li", {},
    el("button", { type: "button", className: "link-button", onclick: () => guarded(() => openDocument(p.document_id, p, collection)) },
       p.title || p.document_id),
    el("span", { className: "score" }, `score ${Number(p.score).toFixed(3)}`),
    el("div", { className: "muted" }, p.text.length > 220 ? `${p.text.slice(0, 220)}…` : p.text))));
}

function renderTrace(trace, results, collection) {
  const order = ["retriever", "top_k", "latency_ms"];
  const { sections, used } = traceSections(trace);  // trace.js: variants, CRAG, route, evidence
  const rest = Object.keys(trace).filter((k) => !order.includes(k) && !used.includes(k) && !(k === "kg" && trace.kg)
                                                && trace[k] !== null);
  const keys = [...order.filter((k) => k in trace), ...rest];
  const labels = { retriever: "Retriever", top_k: "Top k", latency_ms: "Latency (ms)" };
  const list = el("dl", { className: "kv" }, keys.map((k) => [el("dt", {}, labels[k] || k), el("dd", {}, valueView(trace[k]))]));
  const parts = [list, ...sections];
  // the graph walk (graph.js): seeds with weights, drawn to the passages they reached
  if (trace.kg) parts.push(kgPanel(trace.kg, results, (p) => guarded(() => openDocument(p.document_id, p, collection))));
  if (results) parts.push(el("h3", {}, "Ranked passages"), passageList(results, collection));
  $("#trace").replaceChildren(...parts);
}

async function ask(event) {
  event.preventDefault();
  const collection = needCollection();
  const question = $("#ask-question").value.trim();
  if (!question) return;
  const retriever = $("#ask-retriever").value || undefined;
  const topK = Number($("#ask-k").value) || undefined;
  const answer = $("#answer-text");
  const button = $("#ask-button");
  answer.textContent = "";
  answer.className = "answer-text";
  delete answer.dataset.tokens;
  delete answer.dataset.done;
  $("#citations").replaceChildren();
  $("#trace").replaceChildren(el("p", { className: "muted" }, "Retrieving…"));
  button.disabled = true;
  say("Asking…");
  let trace = null;
  try {
    await streamAsk(collection, { question, retriever, top_k: topK }, (name, data) => {
      if (name === "token") {
        answer.textContent += data.text;
        answer.dataset.tokens = String(Number(answer.dataset.tokens || 0) + 1);  // pieces streamed in
      } else if (name === "citations") {
        trace = data.retrieval;
        answer.classList.toggle("abstained", data.abstained);
        $("#citations").replaceChildren(...data.citations.map((c, i) => citationChip(c, i + 1, collection)));
        renderTrace(trace, null, collection);
      } else if (name === "done") answer.textContent = data.answer;
      else if (name === "error") throw new Error(data.detail);
    });
    answer.dataset.done = "1";
    say(`Answered by the ${trace ? trace.retriever : ""} retriever.`);
    const ranked = await api(`${collectionPath(collection)}/retrieve`, { method: "POST",
                                                                         json: { query: question, retriever, top_k: topK } });
    renderTrace(trace || ranked.retrieval, ranked.results, collection);
  } finally {
    button.disabled = false;
  }
}

// -- compare ---------------------------------------------------------------------------
async function compare(event) {
  event.preventDefault();
  const collection = needCollection();
  const question = $("#compare-question").value.trim();
  const chosen = [...new Set($$(".compare-picker").map((p) => p.value).filter(Boolean))];
  if (!question || chosen.length < 2) throw new Error("pick a question and at least two different retrievers");
  const columns = chosen.map((r) => el("div", { className: "column", dataset: { retriever: r } },
    el("h3", {}, r), el("p", { className: "muted" }, "Working…")));
  $("#compare-columns").replaceChildren(...columns);
  say(`Comparing ${chosen.join(", ")}…`);
  await Promise.all(chosen.map(async (retriever, i) => {
    try {
      const [answer, ranked] = await Promise.all([
        api(`${collectionPath(collection)}/ask`, { method: "POST", json: { question, retriever } }),
        api(`${collectionPath(collection)}/retrieve`, { method: "POST", json: { query: question, retriever } })]);
      columns[i].replaceChildren(
        el("h3", {}, retriever, el("span", { className: "muted" }, `${answer.retrieval.latency_ms} ms`)),
        el("div", { className: `answer-text${answer.abstained ? " abstained" : ""}` }, answer.answer),
        el("div", { className: "chips" }, answer.citations.map((c, n) => citationChip(c, n + 1, collection))),
        passageList(ranked.results, collection));
    } catch (error) {
      columns[i].replaceChildren(el("h3", {}, retriever), el("p", { className: "error" }, error.message));
    }
  }));
  say("Compared.");
}

// -- benchmarks ------------------------------------------------------------------------
async function loadDatasets() {
  const { datasets } = await api("/v1/benchmarks/datasets");
  const names = Object.keys(datasets).sort();
  const picker = $("#bench-dataset");
  const keep = picker.value;
  picker.replaceChildren(...(names.length ? names.map((n) => el("option", { value: n }, `${n} (${datasets[n].kind})`))
                                          : [el("option", { value: "" }, "no datasets on the server")]));
  if (names.includes(keep)) picker.value = keep;
  const box = $("#bench-retrievers");
  if (!$("input", box)) {
    box.append(...RETRIEVERS.map((r) => el("label", {}, el("input", { type: "checkbox", value: r,
      checked: ["bm25", "dense", "hybrid"].includes(r) }), r)));
  }
}

function resultsTable(result) {
  const retrievers = Object.keys(result.results || {});
  const metrics = [...new Set(retrievers.flatMap((r) => Object.keys(result.results[r])))];
  const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? ""));
  return [
    el("p", { className: "muted" }, `${result.dataset}: ${result.n_questions} questions over ${result.n_passages} passages`),
    el("div", { className: "table-scroll" }, el("table", { className: "grid metrics", "aria-label": "benchmark results", id: "bench-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Retriever"),
                         metrics.map((m) => el("th", { className: "num", title: m }, m.replace(/_/g, " "))))),
      el("tbody", {}, retrievers.map((r) => el("tr", {}, el("th", { scope: "row" }, r),
        metrics.map((m) => el("td", { className: "num" }, fmt(result.results[r][m]))))))))];
}

/** The report's recall plot; fetched with the API key (an <img src> could not send it). */
function recallPlot(id, result) {
  const img = el("img", { id: "bench-plot", className: "plot", width: 640, height: 420,
                          alt: `Recall at k per retriever on ${result.dataset}` });
  const figure = el("figure", { className: "plot-figure" }, img,
                    el("figcaption", { className: "muted" }, "Recall@k per retriever (nDCG bars for BEIR sets)"));
  guarded(async () => {
    const response = await api(`/v1/benchmarks/${enc(id)}/recall.png`, { stream: true });
    img.src = URL.createObjectURL(await response.blob());
  });
  return figure;
}

async function startBenchmark(event) {
  event.preventDefault();
  const dataset = $("#bench-dataset").value;
  if (!dataset) throw new Error("the server has no benchmark datasets");
  const retrievers = $$("#bench-retrievers input:checked").map((i) => i.value);
  if (!retrievers.length) throw new Error("pick at least one retriever");
  const limit = Number($("#bench-limit").value) || undefined;
  const started = await api("/v1/benchmarks", { method: "POST", json: { dataset, retrievers, limit } });
  $("#bench-job").hidden = false;
  $("#bench-results").replaceChildren();
  $("#bench-label").textContent = `Benchmark ${dataset}`;
  say(`Benchmark ${started.id} started.`);
  let job;
  for (;;) {
    job = await api(`/v1/benchmarks/${enc(started.id)}`);
    showProgress("bench", job);
    $("#bench-label").textContent = `Benchmark ${dataset}${job.stage ? ` · ${job.stage}` : ""}`;
    if (job.status === "done" || job.status === "failed") break;
    await sleep(1000);
  }
  if (job.status === "failed") throw new Error(`benchmark failed: ${job.error}`);
  $("#bench-results").replaceChildren(...resultsTable(job.result), recallPlot(started.id, job.result));
  say("Benchmark done.");
}

// -- sessions --------------------------------------------------------------------------
async function loadSessions() {
  const { sessions } = await api("/v1/sessions");
  state.sessions = sessions;
  $("#session-rows").replaceChildren(...sessions.map((s) => el("li", {},
    el("button", { type: "button", "aria-current": String(state.session?.id === s.id),
                   onclick: () => guarded(() => pickSession(s)) },
       s.name || s.id.slice(0, 8), el("span", { className: "muted" }, s.collection ? ` · ${s.collection}` : "")))));
}

async function pickSession(session) {
  state.session = session;
  const where = session.collection || state.collection || "no collection";
  $("#session-title").textContent = `${session.name || session.id} — answers from ${where}`;
  $("#chat-input").disabled = $("#chat-send").disabled = false;
  enableMemory(true);
  const { messages } = await api(`/v1/sessions/${enc(session.id)}/messages`);
  $("#chat-log").replaceChildren(...messages.filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => el("li", { className: m.role }, m.content)));
  await loadSessions();
  await loadCore();
  $("#chat-input").focus();
}

async function loadCore() {
  if (!state.session) return;
  const { core } = await api(`/v1/sessions/${enc(state.session.id)}/core`);
  renderCore(core);  // memory.js: editable rows
}

async function createSession(event) {
  event.preventDefault();
  const name = $("#session-name").value.trim();
  const session = await api("/v1/sessions", { method: "POST", json: { name, collection: state.collection || null } });
  $("#session-name").value = "";
  await pickSession(session);
}

async function sendChat(event) {
  event.preventDefault();
  const session = state.session;
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!session || !text) return;
  const collection = session.collection || needCollection();
  const log = $("#chat-log");
  log.append(el("li", { className: "user" }, text));
  const said = el("div", { className: "reply-text" });
  const reply = el("li", { className: "assistant" }, said);
  log.append(reply);
  input.value = "";
  $("#chat-send").disabled = true;
  try {
    await streamAsk(collection, { question: text, session_id: session.id }, (name, data) => {
      if (name === "token") said.textContent += data.text;
      else if (name === "citations") reply.append(turnContext(data.retrieval, data.citations, collection));
      else if (name === "done") said.textContent = data.answer;
      else if (name === "error") throw new Error(data.detail);
      log.scrollTop = log.scrollHeight;
    });
    await loadCore();
  } finally {
    $("#chat-send").disabled = false;
  }
}

// -- start -----------------------------------------------------------------------------
function setup() {
  const key = $("#api-key");
  key.value = sessionStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => {
    const value = key.value.trim();
    if (value) sessionStorage.setItem(KEY_STORE, value);
    else sessionStorage.removeItem(KEY_STORE);
    say(value ? "API key set for this tab." : "API key cleared.");
    guarded(loadCollections);
  });
  $("#current-collection").addEventListener("change", (event) => {
    setCollection(event.target.value);
    const open = TABS.find((t) => !$(`#panel-${t}`).hidden);
    showTab(open);
  });
  $("#collection-form").addEventListener("submit", (event) => guarded(async () => {
    event.preventDefault();
    const name = $("#collection-name").value.trim();
    await api("/v1/collections", { method: "POST", json: { name } });
    $("#collection-name").value = "";
    state.collection = name;
    say(`Created collection ${name}.`);
    await loadCollections();
  }));
  $("#ask-form").addEventListener("submit", (event) => guarded(() => ask(event)));
  $("#ask-question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#ask-form").requestSubmit();
  });
  $("#compare-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(() => compare(event)); });
  $("#bench-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(() => startBenchmark(event)); });
  $("#session-form").addEventListener("submit", (event) => guarded(() => createSession(event)));
  $("#chat-form").addEventListener("submit", (event) => guarded(() => sendChat(event)));
  $("#doc-close").addEventListener("click", () => $("#doc-dialog").close());
  setupTabs();
  setupUpload();
  setupMemory();
  fillRetrieverPickers();
  guarded(async () => {
    await loadCollections();
    showTab(location.hash.slice(1) || "collections");
  });
}

document.addEventListener("DOMContentLoaded", setup);
