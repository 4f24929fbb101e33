// Auditor pages: a model version's provenance, a dataset version's impact, a node's history and
// the audit log with its filters and the chain's verification.
import { api, apiOrInvalid, describe, isAuditor } from "./api.js";
import { count, enc, h, link, nodeRoute, problem, table, verdict, when } from "./dom.js";

const versionRows = (list) => list.map((v) => v.type === "REDACTED"
  ? ["redacted", "–", "–", "–", "–"]
  : [link(`/dataset/${enc(v.namespace)}/${enc(v.name)}`, v.name), link(`/impact/${enc(v.namespace)}/${enc(v.name)}/${enc(v.version)}`, v.version),
    when(v.createdAt), v.rowCount, v.failedAssertions?.length ? h("span", { class: "bad" }, v.failedAssertions.join(", ")) : verdict(true, "none")]);
const runRows = (list) => list.map((r) => r.type === "REDACTED"
  ? ["redacted", "–", "–", "–", "–"]
  : [r.job?.name, r.runId, r.state, when(r.endedAt), r.codeVersion]);
const VERSION_HEAD = ["Dataset", "Version", "Created", "Rows", "Failed assertions"];
const RUN_HEAD = ["Job", "Run", "State", "Ended", "Code version"];
const truncated = (found) => (found.truncated ? h("p", { class: "muted" }, "Truncated at the server's bound.") : null);

export async function provenancePage([name, version]) {
  const p = await api(`/api/v1/provenance/models/${enc(name)}/${enc(version)}`);
  const ts = p.trainingSet;
  return h("section", { id: "provenance" },
    h("h1", {}, `Provenance of ${p.model} ${p.version}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Namespace"), h("dd", {}, p.namespace),
      h("dt", {}, "Code version"), h("dd", {}, p.codeVersion || "–"),
      h("dt", {}, "Metrics"), h("dd", {}, Object.entries(p.metrics).map(([k, v]) => `${k}=${v}`).join(", ") || "–"),
      h("dt", {}, "Training set"), h("dd", {}, ts && ts.name
        ? link(`/impact/${enc(ts.namespace)}/${enc(ts.name)}/${enc(ts.version)}`, `${ts.name} @ ${ts.version} (${ts.rowCount ?? "?"} rows)`)
        : p.trainingSetVersion)),
    h("p", {}, link(`/graph?node=${enc(`model:${p.model}:${p.version}`)}&depth=4`, "Lineage graph around it")),
    h("h2", {}, "Dataset versions it was trained from"), table(VERSION_HEAD, versionRows(p.datasetVersions), "None recorded."),
    h("h2", {}, "Runs"), table(RUN_HEAD, runRows(p.runs), "None recorded."), truncated(p));
}

export async function impactPage([namespace, dataset, version]) {
  const found = await api("/api/v1/impact", { namespace, dataset, version });
  const models = found.modelVersions.map((m) => m.type === "REDACTED" ? ["redacted", "–", "–"]
    : [link(`/provenance/${enc(m.name)}/${enc(m.version)}`, m.name), m.version, m.trainingSetVersion]);
  const deployments = found.servingDeployments.map((d) => d.type === "REDACTED" ? ["redacted", "–", "–", "–"]
    : [d.model, d.version, d.environment, d.featureService]);
  return h("section", { id: "impact" },
    h("h1", {}, `Impact of ${dataset} @ ${version}`),
    h("p", { class: "muted" }, `Everything downstream of this version in ${namespace}: what to re-check if it is bad.`),
    h("h2", {}, "Models"), table(["Model", "Version", "Training set version"], models, "No model depends on it."),
    h("h2", {}, "Serving deployments"), table(["Model", "Version", "Environment", "Feature service"], deployments, "Not served."),
    h("h2", {}, "Dataset versions downstream"), table(VERSION_HEAD, versionRows(found.datasetVersions), "None."),
    h("h2", {}, "Runs"), table(RUN_HEAD, runRows(found.runs), "None."), truncated(found));
}

export async function historyPage(_args, params) {
  const limit = 50;
  const offset = Number(params.offset || 0);
  const found = await api("/api/v1/history", { nodeId: params.node, limit, offset });
  const keys = [...new Set(found.items.flatMap((i) => Object.keys(i)))].filter((k) => typeof found.items[0]?.[k] !== "object").slice(0, 7);
  const more = offset + limit < found.total
    ? link(`/history?node=${enc(params.node)}&offset=${offset + limit}`, "Older") : null;
  return h("section", { id: "history" },
    h("h1", {}, `History of ${found.nodeId}`),
    h("p", {}, `${found.type.toLowerCase()}: ${count(found.total, "entry", "entries")}, newest first. `,
      link(`/graph?node=${enc(found.nodeId)}`, "Lineage graph")),
    table(keys, found.items.map((i) => keys.map((k) => (k.endsWith("At") ? when(i[k]) : i[k])))), more);
}

/** The chain's verdict, drawn in ``chain``; an error says what went wrong in its place. */
async function verifyChain(chain) {
  chain.replaceChildren("Verifying…");
  try {
    const v = await api("/api/v1/audit/verify");
    chain.replaceChildren(v.intact ? verdict(true, "The audit chain is intact.")
      : verdict(false, "", `Broken at entry ${v.brokenAt}: ${v.reason}`));
  } catch (err) {
    chain.replaceChildren(h("span", { class: "error", role: "alert" }, describe(err)));
  }
}

function auditFilters(params) {
  const field = (name, label, type = "text") => h("label", {}, `${label} `,
    h("input", { name, type, value: type === "datetime-local" ? (params[name] || "").slice(0, 19) : params[name] || "" }));
  return h("form", { class: "controls", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(e.target)) {
      if (v) q.set(k, k === "since" || k === "until" ? new Date(`${v}Z`).toISOString() : v);
    }
    location.hash = `#/audit?${q}`;
  } }, field("principal", "Principal"), field("object", "Object"), field("since", "Since (UTC)", "datetime-local"),
  field("until", "Until (UTC)", "datetime-local"), h("button", { type: "submit" }, "Filter"));
}

export async function auditPage(_args, params) {
  if (!isAuditor()) return h("p", { class: "error" }, "The audit log is for auditors and admins.");
  const limit = 50;
  const offset = Number(params.offset || 0);
  const heading = [h("h1", {}, "Audit log"), auditFilters(params)];
  const { found, invalid } = await apiOrInvalid("/api/v1/audit", {
    principal: params.principal, object: params.object, since: params.since, until: params.until, limit, offset,
  });
  if (invalid) return h("section", { id: "audit" }, heading, problem(describe(invalid)));
  const chain = h("p", { id: "chain" });
  const check = h("button", { id: "verify", type: "button", onclick: () => verifyChain(chain) }, "Verify the chain");
  const page = new URLSearchParams(params);
  page.set("offset", offset + limit);
  return h("section", { id: "audit" }, heading, h("div", {}, check, chain),
    table(["#", "When", "Principal", "Action", "Object", "Allowed", "From"], found.entries.map((e) =>
      [e.id, when(e.ts), e.principal, e.action, e.object.startsWith("dataset:") || e.object.startsWith("model:")
        ? link(nodeRoute(e.object), e.object) : e.object, verdict(e.allowed, "yes", "denied"), e.sourceAddress]), "No entries match."),
    found.entries.length === limit ? link(`/audit?${page}`, "Older") : null);
}
