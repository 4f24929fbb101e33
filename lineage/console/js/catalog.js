// The catalog page: feature services and views with their governance, the latest data versions
// with received/written/quarantined counts, contract checks, freshness and drift. It is one call
// (/api/v1/catalog), however many views a namespace has; the cells are shared with dataset.js.
import { api } from "./api.js";
import { enc, h, link, table, verdict } from "./dom.js";

export const NS = "/api/v1/namespaces";
const LIMIT = 100; // catalog entries per kind: answers stay bounded on a large graph

export const definition = (ds) => ds?.facets?.skewless_definition || {};
export const owner = (ds) => ds?.facets?.ownership?.owners?.map((o) => o.name).join(", ") || definition(ds).owner;
export const ttl = (s) => (s == null ? "none" : s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : `${s}s`);

export function assertions(ds, prefix = "") {
  const list = ds?.facets?.dataQualityAssertions?.assertions || [];
  return list.filter((a) => a.assertion.startsWith(prefix));
}

export function checksCell(ds) {
  const list = assertions(ds);
  if (!list.length) return "–";
  const failed = list.filter((a) => !a.success);
  return h("span", { class: failed.length ? "bad" : "ok", title: failed.map((a) => `${a.assertion} ${a.column || ""}`).join("\n") },
    `${list.length - failed.length}/${list.length} passed`);
}

export function freshnessCell(online) {
  const [check] = assertions(online, "freshness:");
  return check ? verdict(check.success, `fresh (${check.assertion.split(":")[1]})`, "stale: SLO breached") : "not audited";
}

/** Drifted features are named even when too few drifted for the dataset-level verdict. */
export function driftVerdict(drift) {
  const names = drift.driftedFeatures;
  if (!names.length) return verdict(true, "no drift");
  return verdict(false, "", `${drift.datasetDrift ? "dataset drift" : "drift"}: ${names.join(", ")}`);
}

export async function catalogPage(_args, params) {
  const all = (await api(NS, { limit: LIMIT })).namespaces.map((n) => n.name);
  if (!all.length) return h("p", { class: "muted" }, "This token may read no namespace yet.");
  const ns = all.includes(params.ns) ? params.ns : all.includes("skewless") ? "skewless" : all[0];
  const picker = h("select", { id: "namespace", onchange: (e) => { location.hash = `#/catalog?ns=${enc(e.target.value)}`; } },
    all.map((n) => h("option", { value: n, selected: n === ns }, n)));
  const found = await api("/api/v1/catalog", { namespace: ns, limit: LIMIT });
  const viewRows = found.views.map(({ dataset: v, offline, latest, online }) => {
    const def = definition(v);
    const counts = latest?.createdByRun?.facets?.skewless_ingest;
    const pii = (def.fields || []).filter((f) => f.pii).length;
    return [
      link(`/dataset/${enc(ns)}/${enc(v.name)}`, v.name.slice("feature_view/".length)),
      def.kind === "on_demand_feature_view" ? "on demand" : "batch",
      owner(v), v.description, ttl(def.ttlSeconds), `${v.fields.length}${pii ? ` (${pii} PII)` : ""}`,
      latest ? link(`/impact/${enc(ns)}/${enc(offline.name)}/${enc(latest.version)}`, latest.version) : "–",
      counts ? `${counts.received} / ${counts.written} / ${counts.quarantined}` : "–",
      checksCell(offline), online ? freshnessCell(online) : "–",
    ];
  });
  const serviceRows = found.services.map(({ dataset: s, drift }) => [
    link(`/dataset/${enc(ns)}/${enc(s.name)}`, s.name.slice("feature_service/".length)),
    owner(s), s.description, s.fields.length, s.currentVersion,
    drift ? driftVerdict(drift.facet) : "not audited",
  ]);
  return h("section", { id: "catalog" },
    h("h1", {}, "Catalog ", picker),
    h("h2", {}, "Feature services"),
    table(["Service", "Owner", "Description", "Features", "Version", "Drift"], serviceRows, "No feature services."),
    h("h2", {}, "Feature views"),
    table(["View", "Kind", "Owner", "Description", "TTL", "Fields", "Latest data", "Received / written / quarantined", "Contract checks", "Freshness"],
      viewRows, "No feature views."),
    h("p", { class: "muted" }, `Showing up to ${found.limit} of each kind; use the graph for everything else.`));
}
