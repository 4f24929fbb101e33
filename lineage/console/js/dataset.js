// A dataset's page: fields with owner and PII, checks, versions, and for a feature view its data
// (the source's latest versions, contract checks, freshness) and usage; for a feature service its
// latest drift report. Each part is asked of the API by name, so a view or service past the
// catalog's first page is drawn as fully as any other.
import { api, isAuditor } from "./api.js";
import { enc, h, link, table, verdict, when } from "./dom.js";
import { NS, assertions, checksCell, definition, driftVerdict, freshnessCell, owner, ttl } from "./catalog.js";

const VIEW = "feature_view/";
const SERVICE = "feature_service/";
const SEARCH_LIMIT = 100; // the server caps it at its page size

/** Whether ``ns`` holds a dataset named exactly ``name``: a search, so absence logs no 404. */
async function exists(ns, name) {
  // The search's ``q`` is a LIKE pattern (``_`` matches any character, any case): compare exactly.
  const found = await api("/api/v1/search", { q: name, filter: "dataset", namespace: ns, limit: SEARCH_LIMIT });
  return found.results.some((r) => r.namespace === ns && r.name === name);
}

const datasetIfAny = async (ns, name) => ((await exists(ns, name)) ? api(`${NS}/${enc(ns)}/datasets/${enc(name)}`) : null);

/** A batch view's data: its source's offline dataset with the newest versions, and its online one. */
async function dataOf(ns, view, def) {
  const [offline, online] = await Promise.all([
    def.source ? datasetIfAny(ns, `offline/${def.source}`) : null,
    datasetIfAny(ns, `online/${view}`),
  ]);
  const versions = offline?.currentVersion
    ? (await api(`${NS}/${enc(ns)}/datasets/${enc(offline.name)}/versions`, { limit: 5 })).versions : [];
  return { offline, online, versions };
}

/** A service's latest drift audit: the newest drift run of the jobs reading its served log. */
async function driftOf(ns, service) {
  const served = `served/${service}`;
  if (!(await exists(ns, served))) return { drift: null, truncated: false };
  const around = await api("/api/v1/lineage", { nodeId: `dataset:${ns}:${served}`, depth: 1 });
  const audits = await Promise.all(around.graph
    .filter((n) => n.type === "JOB" && n.data?.name?.startsWith("audit_drift."))
    .map((n) => api(`${NS}/${enc(n.data.namespace)}/jobs/${enc(n.data.name)}`)));
  const runs = audits
    .filter((job) => job.inputs.some((i) => i.namespace === ns && i.name === served))
    .map((job) => job.latestRun)
    .filter((run) => run?.facets?.skewless_drift)
    .sort((a, b) => (b.endedAt || "").localeCompare(a.endedAt || ""));
  const drift = runs.length ? { facet: runs[0].facets.skewless_drift, endedAt: runs[0].endedAt } : null;
  return { drift, truncated: around.truncated };
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
  if (def.kind === "feature_service") parts.push(...(await driftParts(ns, name.slice(SERVICE.length))));
  if (def.kind === "feature_view") parts.push(...(await dataParts(ns, name.slice(VIEW.length), def)));
  if (name.startsWith(VIEW)) parts.push(...(await usageParts(ns, name.slice(VIEW.length))));
  return h("section", { id: "dataset" }, parts);
}

async function driftParts(ns, service) {
  const { drift, truncated } = await driftOf(ns, service);
  if (drift) return [h("h2", {}, `Drift (${when(drift.endedAt)})`), driftVerdict(drift.facet), driftChart(drift.facet)];
  return [h("h2", {}, "Drift"), h("p", { class: "muted" }, truncated
    ? `No drift audit among the jobs the server's bound let through around served/${service}.`
    : "Not audited.")];
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
