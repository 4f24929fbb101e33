// The lineage graph around a node, drawn as SVG: upstream to the left, downstream to the right,
// one column per step. Depth and an as-of time are controls; a click opens the node's page.
// The answer is the API's, bounded by the server (``truncated`` says when it was cut).
import { apiOrInvalid, describe } from "./api.js";
import { count, enc, h, nodeRoute, problem } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const COL = 250;
const ROW = 44;
const BOX = { w: 210, h: 30 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Each node's column: its signed distance from the centre along edges (breadth first). */
export function ranks(nodes, centre) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const rank = new Map([[centre, 0]]);
  const queue = [centre];
  while (queue.length) {
    const id = queue.shift();
    const node = byId.get(id);
    if (!node) continue;
    for (const e of node.outEdges) {
      if (!rank.has(e.destination)) { rank.set(e.destination, rank.get(id) + 1); queue.push(e.destination); }
    }
    for (const e of node.inEdges) {
      if (!rank.has(e.origin)) { rank.set(e.origin, rank.get(id) - 1); queue.push(e.origin); }
    }
  }
  for (const n of nodes) if (!rank.has(n.id)) rank.set(n.id, 0);
  return rank;
}

function label(node) {
  if (node.type === "REDACTED") return "redacted";
  const d = node.data || {};
  const text = d.version && d.name ? `${d.name} @ ${d.version}` : d.name || node.id.slice(node.id.indexOf(":") + 1);
  return text.length > 30 ? `${text.slice(0, 29)}…` : text;
}

function draw(graph, centre) {
  const rank = ranks(graph, centre);
  const columns = new Map();
  for (const n of graph) {
    const r = rank.get(n.id);
    if (!columns.has(r)) columns.set(r, []);
    columns.get(r).push(n);
  }
  const order = [...columns.keys()].sort((a, b) => a - b);
  const place = new Map();
  order.forEach((r, x) => {
    columns.get(r).sort((a, b) => label(a).localeCompare(label(b)))
      .forEach((n, y) => place.set(n.id, { x: 20 + x * COL, y: 20 + y * ROW }));
  });
  const height = 40 + Math.max(...[...columns.values()].map((c) => c.length)) * ROW;
  const root = svg("svg", { id: "graph-svg", width: 40 + order.length * COL, height, role: "img", "aria-label": "lineage graph" });
  for (const n of graph) {
    for (const e of n.outEdges) {
      const a = place.get(e.origin);
      const b = place.get(e.destination);
      if (!a || !b) continue;
      const [x1, y1, x2, y2] = [a.x + BOX.w, a.y + BOX.h / 2, b.x, b.y + BOX.h / 2];
      const mid = (x1 + x2) / 2;
      root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
    }
  }
  for (const n of graph) {
    const p = place.get(n.id);
    const title = svg("title");
    title.textContent = n.type === "REDACTED" ? "outside your grants" : n.id;
    const text = svg("text", { x: p.x + 8, y: p.y + 19 });
    text.textContent = label(n);
    const group = svg("g", {
      class: `node ${n.type.toLowerCase()}${n.id === centre ? " centre" : ""}`,
      "data-id": n.id, "data-type": n.type, tabindex: n.type === "REDACTED" ? -1 : 0,
    }, title, svg("rect", { x: p.x, y: p.y, width: BOX.w, height: BOX.h, rx: 6 }), text);
    if (n.type !== "REDACTED") {
      const open = () => { location.hash = `#${nodeRoute(n.id, n.data)}`; };
      group.addEventListener("click", open);
      group.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    }
    root.append(group);
  }
  return root;
}

export async function graphPage(_args, params) {
  const node = params.node || "";
  const depth = params.depth || "2";
  const asOf = params.asOf || "";
  const form = h("form", { class: "controls", onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const at = f.get("asOf") ? new Date(`${f.get("asOf")}Z`).toISOString() : "";
    location.hash = `#/graph?node=${enc(f.get("node"))}&depth=${enc(f.get("depth"))}${at ? `&asOf=${enc(at)}` : ""}`;
  } },
    h("label", {}, "Node ", h("input", { name: "node", value: node, size: 60, placeholder: "dataset:<namespace>:<name>", required: true })),
    h("label", {}, "Depth ", h("input", { name: "depth", type: "number", min: 0, max: 20, value: depth })),
    h("label", {}, "As of (UTC) ", h("input", { name: "asOf", type: "datetime-local", step: 1, value: asOf ? asOf.slice(0, 19) : "" })),
    h("button", { type: "submit" }, "Draw"));
  const heading = [h("h1", {}, "Lineage graph"), form];
  if (!node) return h("section", { id: "graph" }, heading,
    h("p", { class: "muted" }, "Open a dataset from the catalog, or give a node id."));
  const { found, invalid } = await apiOrInvalid("/api/v1/lineage", { nodeId: node, depth, asOf });
  if (invalid) return h("section", { id: "graph" }, heading, problem(describe(invalid)));
  const counts = {};
  for (const n of found.graph) counts[n.type] = (counts[n.type] || 0) + 1;
  return h("section", { id: "graph" }, heading,
    h("p", { class: "muted", id: "graph-summary" },
      `${count(found.graph.length, "node")} (${Object.entries(counts).map(([t, c]) => `${c} ${t.toLowerCase()}`).join(", ")})`,
      found.truncated ? " — truncated at the server's bound; lower the depth" : ""),
    h("div", { class: "canvas" }, draw(found.graph, node)));
}
