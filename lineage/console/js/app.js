// The console's shell: sign-in, the navigation bar and the hash router. Every page calls the
// service's own API with the token, so the console shows exactly what the token may read
// (hidden namespaces are absent, redacted graph nodes stay redacted).
import { ApiError, SERVICE_DOWN, api, describe, isAuditor, session, signIn, signOut, storedToken } from "./api.js";
import { h, link, problem } from "./dom.js";
import { catalogPage } from "./catalog.js";
import { datasetPage } from "./dataset.js";
import { graphPage } from "./graph.js";
import { auditPage, historyPage, impactPage, provenancePage } from "./auditor.js";

// Each page and the address it needs: its path parts and query parameters are required.
const ROUTES = {
  catalog: { page: catalogPage, address: "/catalog" },
  dataset: { page: datasetPage, address: "/dataset/NAMESPACE/NAME" },
  graph: { page: graphPage, address: "/graph" },
  provenance: { page: provenancePage, address: "/provenance/MODEL/VERSION" },
  impact: { page: impactPage, address: "/impact/NAMESPACE/DATASET/VERSION" },
  audit: { page: auditPage, address: "/audit" },
  history: { page: historyPage, address: "/history?node=NODE" },
};

function signInPage() {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const message = h("p", { class: "error", role: "alert" }, session.notice);
  return h(
    "form",
    { class: "signin", onsubmit: async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      try {
        signIn(token, await api("/api/v1/me", {}, token));
      } catch (err) {
        message.textContent = `Sign-in failed: ${err.message}`;
        return;
      }
      // Stay on the address that asked for a sign-in (setting the same hash fires no event).
      if (!location.hash || location.hash.startsWith("#/signin")) location.hash = "#/catalog";
      else route();
    } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste a lineage token (skewless lineage token create)."),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
}

function showSignIn() {
  document.getElementById("view").replaceChildren(signInPage());
  document.getElementById("token").focus();
}

/** The token could not be checked: say so and keep it, so that a retry can succeed. */
function unansweredPage(err) {
  const detail = err.status ? describe(err) : null;
  return h("section", { id: "unanswered" },
    problem(SERVICE_DOWN), detail ? h("p", { class: "muted" }, detail) : null,
    h("p", {}, h("button", { type: "button", onclick: () => route() }, "Retry"), " ",
      h("button", { type: "button", onclick: showSignIn }, "Sign in with another token")));
}

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
    h("button", { class: "link", onclick: () => signOut() }, "Sign out"),
  );
}

/** The page an address names, its path parts and its query; a URIError on a bad % escape. */
function parse(hash) {
  const address = hash.slice(1) || "/catalog";
  const at = address.includes("?") ? address.indexOf("?") : address.length;
  const [name = "catalog", ...args] = address.slice(0, at).split("/").filter(Boolean).map(decodeURIComponent);
  return { name, args, params: Object.fromEntries(new URLSearchParams(address.slice(at + 1))) };
}

/** Why an address cannot be drawn (malformed, incomplete), or null when it can. */
function addressProblem(hash) {
  let target;
  try {
    target = parse(hash);
  } catch (err) {
    return `This address is not valid: ${hash} (${err.message}).`;
  }
  const known = ROUTES[target.name];
  if (!known) return null; // an unknown page falls back to the catalog
  const [path, query = ""] = known.address.split("?");
  const missing = target.args.length < path.split("/").length - 2
    || [...new URLSearchParams(query).keys()].some((k) => !target.params[k]);
  return missing ? `This address is incomplete: expected #${known.address}.` : null;
}

// Which navigation is current: an answer that arrives after the user moved on is dropped.
let navigation = 0;

async function route() {
  const mine = ++navigation;
  const current = () => mine === navigation;
  const view = document.getElementById("view");
  if (!session.me && storedToken()) {
    try {
      session.me = await api("/api/v1/me");
    } catch (err) {
      if (!current()) return;
      // A refused token has signed out (api() did); anything else keeps the token for a retry.
      if (!(err instanceof ApiError && err.status === 401)) {
        renderNav();
        view.replaceChildren(unansweredPage(err));
        return;
      }
    }
    if (!current()) return;
  }
  renderNav();
  const hash = location.hash || "#/catalog";
  if (!session.me || hash.startsWith("#/signin")) {
    showSignIn();
    return;
  }
  const wrong = addressProblem(hash);
  if (wrong) {
    view.replaceChildren(problem(wrong));
    document.body.dataset.page = "address";
    return;
  }
  const { name, args, params } = parse(hash);
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let drawn;
  try {
    drawn = await (ROUTES[name] || ROUTES.catalog).page(args, params);
  } catch (err) {
    drawn = problem(describe(err));
  }
  if (!current()) return;
  view.replaceChildren(drawn);
  document.body.dataset.page = ROUTES[name] ? name : "catalog";
}

window.addEventListener("hashchange", route);
route();
