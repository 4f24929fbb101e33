// The console's shell: the signed-in token, API calls, DOM building and the hash router.
// Every page calls the service's own API with the token, so the console shows exactly what the
// token may read (hidden namespaces are absent, redacted graph nodes stay redacted).
import { catalogPage, datasetPage } from "./catalog.js";
import { graphPage } from "./graph.js";
import { auditPage, historyPage, impactPage, provenancePage } from "./auditor.js";

const TOKEN = "skewless.token";
export const session = { me: null };

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET an API path with the signed-in token; JSON back, or an ApiError with the detail. */
export async function api(path, params = {}, token = sessionStorage.getItem(TOKEN)) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, v);
  }
  const url = query.size ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && token === sessionStorage.getItem(TOKEN)) signOut();
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

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
export const isAuditor = () => ["auditor", "admin"].includes(session.me?.role);

/** The route to a node's own page: its data (namespace, name, version) where the graph gave it. */
export function nodeRoute(id, data = null) {
  const type = id.slice(0, id.indexOf(":"));
  if (type === "dataset" && data?.namespace) return `/dataset/${enc(data.namespace)}/${enc(data.name)}`;
  if (type === "datasetVersion" && data?.namespace && data?.version) {
    return `/impact/${enc(data.namespace)}/${enc(data.name)}/${enc(data.version)}`;
  }
  if (type === "model" && data?.name) return `/provenance/${enc(data.name)}/${enc(data.version)}`;
  return `/history?node=${enc(id)}`;
}

function signOut() {
  sessionStorage.removeItem(TOKEN);
  session.me = null;
  location.hash = "#/signin";
}

function signInPage() {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "signin", onsubmit: async (event) => {
      event.preventDefault();
      try {
        session.me = await api("/api/v1/me", {}, input.value.trim());
        sessionStorage.setItem(TOKEN, input.value.trim());
        location.hash = "#/catalog";
      } catch (err) {
        message.textContent = `Sign-in failed: ${err.message}`;
      }
    } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste a lineage token (skewless lineage token create)."),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  return form;
}

const ROUTES = {
  catalog: catalogPage,
  dataset: datasetPage,
  graph: graphPage,
  provenance: provenancePage,
  impact: impactPage,
  audit: auditPage,
  history: historyPage,
};

function renderNav() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  nav.replaceChildren();
  who.replaceChildren();
  if (!session.me) return;
  nav.append(link("/catalog", "Catalog"), link("/graph", "Lineage graph"));
  if (isAuditor()) nav.append(link("/audit", "Audit log"));
  who.append(
    h("span", { id: "principal" }, `${session.me.principal} (${session.me.role})`),
    h("button", { class: "link", onclick: signOut }, "Sign out"),
  );
}

async function route() {
  const view = document.getElementById("view");
  const [path, query] = (location.hash.slice(1) || "/catalog").split("?");
  const [name, ...args] = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (!session.me && sessionStorage.getItem(TOKEN)) {
    session.me = await api("/api/v1/me").catch(() => null);
  }
  renderNav();
  if (!session.me || name === "signin") {
    view.replaceChildren(signInPage());
    document.getElementById("token").focus();
    return;
  }
  const page = ROUTES[name] || catalogPage;
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    view.replaceChildren(await page(args, params));
  } catch (err) {
    const text = err instanceof ApiError ? `${err.status}: ${err.message}` : String(err);
    view.replaceChildren(h("p", { class: "error", role: "alert" }, text));
  }
  document.body.dataset.page = name || "catalog";
}

window.addEventListener("hashchange", route);
route();
