// Catalog and dataset pages: feature services and views with their governance, the latest data
// versions with received/written/quarantined counts, contract checks, freshness and drift. The
// catalog is one call (/api/v1/catalog), however many views a namespace has.
import { api, enc, h, isAuditor, link, table, verdict, when } from "./app.js";

const NS = "/api/v1/namespaces";
const LIMIT = 100; // catalog entries per kind: answers stay bounded on a large graph

const definition = (ds) => ds?.facets?.skewless_definition || {};
const owner = (ds) => ds?.facets?.ownership?.owners?.map((o) => o.name).join(", ") || definition(ds).owner;
const ttl = (s) => (s == null ? "none" : s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : `${s}s`);

function assertions(ds, prefix = "") {
  const list = ds?.facets?.dataQualityAssertions?.assertions || [];
  return list.filter((a) => a.assertion.startsWith(prefix));
}

function checksCell(ds) {
  const list = assertions(ds);
  if (!list.length) return "–";
  const failed = list.filter((a) => !a.success);
  return h("span", { class: failed.length ? "bad" : "ok", title: failed.map((a) => `${a.assertion} ${a.column || ""}`).join("\n") },
    `${list.length - failed.length}/${list.length} passed`);
}

function freshnessCell(online) {
  const [check] = assertions(online, "freshness:");
  return check ? verdict(check.success, `fresh (${check.assertion.split(":")[1]})`, "stale: SLO breached") : "not audited";
}

/** A batch view's data, for its own page: the source's latest versions, checks, freshness. */
async function dataOf(ns, view, def) {
  const found = await api("/api/v1/catalog", { namespace: ns, limit: LIMIT });
  const entry = found.views.find((e) => e.dataset.name === `feature_view/${view}`) || {};
  const offline = entry.offline || null;
  const versions = offline?.currentVersion
    ? (await api(`${NS}/${enc(ns)}/datasets/${enc(offline.name)}/versions`, { limit: 5 })).versions : [];
  return { offline, online: entry.online || null, versions };
}

/** Drifted features are named even when too few drifted for the dataset-level verdict. */
function driftVerdict(drift) {
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

function fieldsTable(ds) {
  const byName = Object.fromEntries((definition(ds).fields || []).map((f) => [f.name, f]));
  return table(["Field", "Type", "Description", "Owner", "PII"], ds.fields.map((f) => {
    const g = byName[f.name] || {};
    return [f.name, f.type, f.description, g.owner, g.pii ? h("span", { class: "pii" }, g.classification || "PII") : "no"];
  }), "No schema recorded.");
}

function driftChart(drift) {
  const rows = Object.entries(drift.scores).map(([feature, scores]) => {
    const [name, value] = Object.entries(scores)[0] || ["", 0];
    const width = Math.max(1, Math.min(100, Math.round(Math.abs(value) * 100)));
    const drifted = drift.driftedFeatures.includes(feature);
    const bar = h("span", { class: `bar ${drifted ? "bad" : "ok"}` });
    bar.style.width = `${width}%`; // CSSOM, not a style attribute: the page's CSP forbids those
    return h("div", { class: "bar-row" }, h("span", {}, feature), bar, h("span", {}, `${name} ${Number(value).toFixed(3)}`));
  });
  return h("div", { class: "chart", role: "img", "aria-label": "drift scores" }, rows);
}

export async function datasetPage([ns, name]) {
  const ds = await api(`${NS}/${enc(ns)}/datasets/${enc(name)}`);
  const def = definition(ds);
  const node = `dataset:${ns}:${name}`;
  const versions = await api(`${NS}/${enc(ns)}/datasets/${enc(name)}/versions`, { limit: 10 });
  const parts = [
    h("h1", {}, name),
    h("p", {}, ds.description || h("span", { class: "muted" }, "No description.")),
    h("dl", { class: "facts" },
      h("dt", {}, "Namespace"), h("dd", {}, ns),
      h("dt", {}, "Owner"), h("dd", {}, owner(ds) || "–"),
      def.kind ? [h("dt", {}, "Kind"), h("dd", {}, def.kind)] : null,
      def.kind && def.kind !== "feature_service" ? [h("dt", {}, "TTL"), h("dd", {}, ttl(def.ttlSeconds))] : null,
      def.entities?.length ? [h("dt", {}, "Entities"), h("dd", {}, def.entities.join(", "))] : null,
      def.source ? [h("dt", {}, "Source"), h("dd", {}, link(`/dataset/${enc(ns)}/${enc(`offline/${def.source}`)}`, def.source))] : null,
      h("dt", {}, "Current version"), h("dd", {}, ds.currentVersion || "–")),
    h("p", {}, link(`/graph?node=${enc(node)}`, "Lineage graph around it"), " · ", link(`/history?node=${enc(node)}`, "History")),
    h("h2", {}, "Fields"), fieldsTable(ds),
  ];
  const checks = assertions(ds);
  if (checks.length) {
    parts.push(h("h2", {}, "Checks"), table(["Check", "Column", "Result"],
      checks.map((a) => [a.assertion, a.column, verdict(a.success, "passed", "failed")])));
  }
  parts.push(h("h2", {}, "Versions"), table(["Version", "Created", "Run", "Received / written / quarantined", "Impact"],
    versions.versions.map((v) => {
      const c = v.createdByRun?.facets?.skewless_ingest;
      return [v.version, when(v.createdAt), v.createdByRun ? v.createdByRun.state : "–",
        c ? `${c.received} / ${c.written} / ${c.quarantined}` : "–",
        link(`/impact/${enc(ns)}/${enc(name)}/${enc(v.version)}`, "impact")];
    }), "No versions."));
  if (def.kind === "feature_service") {
    const found = await api("/api/v1/catalog", { namespace: ns, limit: LIMIT });
    const drift = found.services.find((e) => e.dataset.name === name)?.drift;
    if (drift) {
      parts.push(h("h2", {}, `Drift (${when(drift.endedAt)})`), driftVerdict(drift.facet), driftChart(drift.facet));
    }
  }
  if (def.kind === "feature_view") parts.push(...(await dataParts(ns, name.slice("feature_view/".length), def)));
  if (name.startsWith("feature_view/")) parts.push(...(await usageParts(ns, name.slice("feature_view/".length))));
  return h("section", { id: "dataset" }, parts);
}

async function dataParts(ns, view, def) {
  const { offline, online, versions } = await dataOf(ns, view, def);
  if (!offline) return [h("h2", {}, "Data"), h("p", { class: "muted" }, "No data ingested yet.")];
  return [
    h("h2", {}, "Data ", link(`/dataset/${enc(ns)}/${enc(offline.name)}`, offline.name)),
    h("p", {}, "Contract checks: ", checksCell(offline), " · Freshness: ", online ? freshnessCell(online) : "not materialized"),
    table(["Version", "Ingested", "Received / written / quarantined", "Impact"], versions.map((v) => {
      const c = v.createdByRun?.facets?.skewless_ingest;
      return [v.version, when(v.createdAt), c ? `${c.received} / ${c.written} / ${c.quarantined}` : "–",
        link(`/impact/${enc(ns)}/${enc(offline.name)}/${enc(v.version)}`, "impact")];
    })),
  ];
}

async function usageParts(ns, view) {
  const usage = await api(`/api/v1/usage/feature-views/${enc(view)}`, { namespace: ns });
  const parts = [
    h("h2", {}, "Usage"),
    table(["Model", "Version", "Training set version", "Fields used"], usage.modelVersions.map((m) =>
      m.type === "REDACTED" ? ["redacted", "–", "–", "–"]
        : [link(`/provenance/${enc(m.name)}/${enc(m.version)}`, m.name), m.version, m.trainingSetVersion, (m.usedFields || []).join(", ")]),
    "No model uses this view."),
    h("p", { id: "unused" }, "Unused fields: ", usage.unusedFields.length ? usage.unusedFields.join(", ") : "none"),
  ];
  if (isAuditor()) {
    const reads = await api(`/api/v1/reads/feature-views/${enc(view)}`, { namespace: ns, limit: 20 });
    parts.push(h("h2", {}, "Who read it"),
      table(["When", "Principal", "Action", "Allowed", "From"], reads.accesses.map((a) =>
        [when(a.ts), a.principal, a.action, verdict(a.allowed, "yes", "denied"), a.sourceAddress]), "No online reads recorded."),
      table(["Run", "Job", "State", "Ended", "View version"], reads.runs.map((r) =>
        [r.runId, r.job?.name, r.state, when(r.endedAt), r.version]), "No runs read it."));
  }
  return parts;
}
