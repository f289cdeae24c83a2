// The knowledge-graph part of a retrieval trace (hipporag, or adaptive routed to it): the
// seed phrases with their weights and a small SVG drawing of the seeds and the passages the
// walk ranked. Plain DOM and SVG, nothing loaded from elsewhere; app.js calls kgPanel().
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const KG_MAX_SEEDS = 8;  // the drawing stays small; the list below it has every seed

function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const normText = (s) => String(s || "").toLowerCase().replace(/\s+/g, " ");
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Which seed led to which passage: a seed phrase reaches the passages whose title or text
 * mentions it (the graph's phrase→passage edges are those mentions). Pure.
 * @returns {{seed: number, passage: number, weight: number}[]} indexes into the inputs
 */
function kgEdges(seeds, passages) {
  const texts = passages.map((p) => normText(`${p.title || ""} ${p.text || ""}`));
  const edges = [];
  seeds.forEach((s, i) => {
    const phrase = normText(s.phrase).trim();
    if (!phrase) return;
    texts.forEach((text, j) => { if (text.includes(phrase)) edges.push({ seed: i, passage: j, weight: s.weight }); });
  });
  return edges;
}

/** The SVG: seeds (left, radius by weight) → ranked passages (right); edge width by weight. */
function kgGraph(seeds, passages, onOpen) {
  const shown = seeds.slice(0, KG_MAX_SEEDS);
  const edges = kgEdges(shown, passages);
  const row = 38;
  const rows = Math.max(shown.length, passages.length, 1);
  const height = rows * row + 24;
  const top = (n) => 12 + ((rows - n) * row) / 2 + row / 2;  // centre each column
  const seedX = 190;
  const passX = 330;
  const maxW = Math.max(...shown.map((s) => s.weight), 1e-9);
  const seedY = (i) => top(shown.length) + i * row;
  const passY = (j) => top(passages.length) + j * row;
  const reached = new Set(edges.map((e) => e.passage));

  const edgeNodes = edges.map((e) => {
    const [y1, y2, mid] = [seedY(e.seed), passY(e.passage), (seedX + passX) / 2];
    return svgEl("path", { class: "kg-edge", d: `M${seedX},${y1} C${mid},${y1} ${mid},${y2} ${passX},${y2}`,
                           "stroke-width": (1 + (6 * e.weight) / maxW).toFixed(2),
                           "data-seed": shown[e.seed].phrase, "data-passage": passages[e.passage].chunk_id },
                 svgEl("title", {}, `${shown[e.seed].phrase} → ${passages[e.passage].title || passages[e.passage].document_id}`
                                    + ` (seed weight ${e.weight})`));
  });
  const seedNodes = shown.map((s, i) => svgEl("g", { class: "kg-seed", "data-phrase": s.phrase, "data-weight": s.weight },
    svgEl("title", {}, `seed "${s.phrase}", weight ${s.weight}`),
    svgEl("circle", { cx: seedX, cy: seedY(i), r: (5 + (6 * s.weight) / maxW).toFixed(1) }),
    svgEl("text", { x: seedX - 16, y: seedY(i), "text-anchor": "end", "dominant-baseline": "middle" },
          clip(s.phrase, 26), svgEl("tspan", { class: "kg-weight" }, ` ${Number(s.weight).toFixed(2)}`))));
  const passageNodes = passages.map((p, j) => {
    const label = `#${j + 1} ${p.title || p.document_id}`;
    const open = () => onOpen(p);
    return svgEl("g", { class: `kg-passage${reached.has(j) ? "" : " walked"}`, tabindex: 0, role: "button",
                        "data-chunk": p.chunk_id, "aria-label": `open passage ${label}`, onclick: open,
                        onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); } } },
      svgEl("title", {}, `${label}, score ${Number(p.score).toFixed(3)}`
                         + (reached.has(j) ? "" : ": no seed mentions it; reached through the graph")),
      svgEl("rect", { x: passX, y: passY(j) - 13, width: 260, height: 26, rx: 6 }),
      svgEl("text", { x: passX + 10, y: passY(j), "dominant-baseline": "middle" }, clip(label, 34)));
  });
  return svgEl("svg", { class: "kg-graph", id: "kg-graph", viewBox: `0 0 600 ${height}`, role: "img",
                        "aria-label": `knowledge-graph walk: ${shown.length} seed phrases leading to ${passages.length} ranked passages` },
               edgeNodes, seedNodes, passageNodes);
}

/** The trace's `kg` entry, readable: mode, seeds with weights, the drawing, facts. */
function kgPanel(kg, passages, onOpen) {
  const seeds = Array.isArray(kg.seeds) ? kg.seeds : [];
  const facts = Array.isArray(kg.facts) ? kg.facts : [];
  const about = [`mode ${kg.mode}${kg.mode_setting ? ` (${kg.mode_setting})` : ""}`];
  if (kg.query_entities && kg.query_entities.length) about.push(`question entities: ${kg.query_entities.join(", ")}`);
  if (kg.ppr_ms !== undefined) about.push(`PageRank ${kg.ppr_ms} ms`);
  const parts = [el("h3", {}, "Knowledge graph"), el("p", { className: "muted" }, about.join(" · "))];
  if (kg.fallback_dense || !seeds.length) {
    parts.push(el("p", { className: "kg-fallback" }, "No seed phrase matched the graph: the dense ranking was used."));
    return el("div", { className: "kg", id: "kg-panel" }, parts);
  }
  parts.push(el("ol", { className: "kg-seeds", "aria-label": "seed phrases" }, seeds.map((s) => el("li", {},
    el("span", { className: "kg-phrase" }, s.phrase), el("span", { className: "score" }, `weight ${Number(s.weight).toFixed(3)}`)))));
  if (passages && passages.length) {
    parts.push(el("div", { className: "kg-drawing" }, kgGraph(seeds, passages, onOpen)),
               el("p", { className: "muted small" }, "Lines: a seed phrase mentioned by a passage, thicker for a heavier seed. "
                 + "A dashed passage mentions no seed: the walk reached it through the graph."));
  }
  if (facts.length) {
    parts.push(el("h3", {}, "Facts that seeded the walk"), el("ul", { className: "kg-facts" }, facts.map((f) => el("li", {},
      (f.triple || []).join(" — "), el("span", { className: "score" }, `score ${Number(f.score).toFixed(3)}`)))));
  }
  return el("div", { className: "kg", id: "kg-panel" }, parts);
}
