// Building the pages: elements from plain values (text is always text, never HTML), tables,
// links to console routes and the small formats every page shares.

/** Build an element: h("a", {href: "#"}, "text", child). Text is always text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A table: column headings and rows of cells (text or elements); a note when empty. */
export function table(headings, rows, empty = "nothing here") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c ?? "–"))))),
  );
}

/** A link to a console route. */
export const link = (route, text) => h("a", { href: `#${route}` }, text);
export const enc = encodeURIComponent;
export const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "–");
export const verdict = (ok, yes = "ok", no = "failed") =>
  h("span", { class: ok ? "ok" : "bad" }, ok ? yes : no);
/** "1 node", "2 nodes"; ``many`` for irregular plurals ("entries"). */
export const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** A message that something went wrong, announced to screen readers. */
export const problem = (text) => h("p", { class: "error", role: "alert" }, text);

/** The route to a node's own page: its data (namespace, name, version) where the graph gave it. */
export function nodeRoute(id, data = null) {
  const type = id.slice(0, id.indexOf(":"));
  if (type === "dataset" && data?.namespace) return `/dataset/${enc(data.namespace)}/${enc(data.name)}`;
  if (type === "datasetVersion" && data?.namespace && data?.version) {
    return `/impact/${enc(data.namespace)}/${enc(data.name)}/${enc(data.version)}`;
  }
  if (type === "model" && data?.name && data?.version) return `/provenance/${enc(data.name)}/${enc(data.version)}`;
  return `/history?node=${enc(id)}`;
}
