// Readable sections for the retrieval trace: fusion's query variants, CRAG's grade and the
// action it took, adaptive's route, and the evidence gate. app.js's renderTrace shows these
// and lists the remaining keys as they are. Uses app.js's el().
"use strict";

const num = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : String(v ?? "—"));

/** What CRAG did, in words, from its trace block. Pure. */
function cragAction(crag) {
  const again = crag.rewrite !== undefined
    ? `searched again with "${crag.rewrite}" on ${(crag.searched || []).join(", ") || "the fallbacks"}` : "";
  if (crag.abstain) return `abstained: nothing relevant${again ? `, even after it ${again}` : ""}`;
  if (crag.label === "correct") {
    return `kept the retrieved passages${crag.strips ? `, refined to ${crag.strips.length} knowledge strips` : ""}`;
  }
  return `${again || "searched again"}, fused with the first ranking`
    + (crag.final_label ? ` (grade after: ${crag.final_label})` : "");
}

function section(id, title, ...body) {
  return el("div", { className: "trace-section", id }, el("h3", {}, title), ...body);
}

function fusionSection(trace) {
  const variants = trace.variants.map((v) => el("li", { dataset: { kind: v.kind } },
    el("span", { className: "variant-text" }, v.text),
    el("span", { className: `pill kind-${v.kind}` }, v.kind),
    el("span", { className: "score" }, `hop ${v.hop} · weight ${num(v.weight, 2)}`)));
  const about = [`variants from ${trace.variant_source || trace.path || "?"}`];
  if (trace.indexes) about.push(`over ${Object.entries(trace.indexes).map(([n, w]) => `${n} ×${w}`).join(", ")}`);
  if (trace.hops) about.push(`${trace.hops} hops`);
  return section("trace-variants", "Query variants", el("p", { className: "muted" }, about.join(" · ")),
                 el("ol", { className: "variants" }, variants));
}

function cragSection(crag, base) {
  const grade = el("p", {}, "Grade ", el("span", { className: `pill grade-${crag.label}`, id: "crag-label" }, crag.label),
    el("span", { className: "muted" }, ` by the ${crag.evaluator} evaluator: scores ${(crag.scores || []).map((s) => num(s, 2)).join(", ")}`
       + ` against upper ${crag.upper}, lower ${crag.lower}`));
  const parts = [grade, el("p", { id: "crag-action" }, "Action: ", el("strong", {}, cragAction(crag)))];
  if (base && base.retriever) parts.push(el("p", { className: "muted" }, `first ranking from ${base.retriever}`));
  if (crag.strips && crag.strips.length) {
    parts.push(el("ol", { className: "strips", "aria-label": "knowledge strips" }, crag.strips.map((s) => el("li", {},
      s.text, el("span", { className: "score" }, `score ${num(s.score, 2)}`)))));
  }
  return section("trace-crag", "CRAG", ...parts);
}

function routeSection(trace) {
  const features = trace.features ? Object.entries(trace.features).map(([k, v]) => `${k} ${v}`).join(" · ") : "";
  const verify = trace.verify;
  const parts = [el("p", { id: "route-line" }, "Route ", el("span", { className: "pill" }, trace.route),
    ` at level ${trace.level ?? "?"}`, trace.routed_to ? ` → ${trace.routed_to}` : "")];
  if (features) parts.push(el("p", { className: "muted" }, `question features: ${features}`));
  if (verify) {
    parts.push(el("p", { className: "muted" }, `verified to depth ${verify.depth}: `
      + (verify.escalated ? `escalated (missing ${(verify.missing || []).join(", ")})` : "no escalation")));
  }
  return section("trace-route", "Adaptive route", ...parts);
}

function evidenceSection(ev) {
  const t = ev.thresholds || {};
  const line = `cosine ${num(ev.cosine, 2)} (needs ${t.cosine ?? "?"}) · coverage ${num(ev.coverage, 2)}`
    + ` (needs ${t.coverage ?? "?"}) · ${ev.passages ?? "?"} passages`
    + (ev.missing_terms && ev.missing_terms.length ? ` · missing terms: ${ev.missing_terms.join(", ")}` : "");
  return section("trace-evidence", "Evidence gate", el("p", {}, el("strong", {}, ev.abstain ? "abstain" : "answer"),
                                                         el("span", { className: "muted" }, ` · ${line}`)));
}

/** The sections this trace has, and the keys they cover (so the plain list skips them). */
function traceSections(trace) {
  const sections = [];
  const used = [];
  if (Array.isArray(trace.variants)) { sections.push(fusionSection(trace)); used.push("variants", "variant_source", "indexes", "hops"); }
  if (trace.crag && typeof trace.crag === "object") { sections.push(cragSection(trace.crag, trace.base)); used.push("crag", "base"); }
  if (trace.route !== undefined) { sections.push(routeSection(trace)); used.push("route", "level", "routed_to", "features", "verify"); }
  const check = trace.evidence_check;  // the evidence check's block
  if (check && typeof check === "object") { sections.push(evidenceSection(check)); used.push("evidence_check"); }
  return { sections, used };
}
