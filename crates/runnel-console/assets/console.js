// The console's pages: hash routes drawn from the JSON API under /console/api/, the
// admin server's /metrics (rates, sizes) and /v1/lag (lag statuses).
"use strict";

const REFRESH_MS = 2000;
const view = document.getElementById("view");
let settings = { admin_actions: false, max_page_records: 500, connect: false };
// The current page's timer; cleared when another page is drawn.
let timer = null;

// --- Talking to the server ---------------------------------------------------------------

async function api(path, options = {}) {
  const init = { method: options.method ?? "GET", headers: {} };
  if (options.body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(`/console/api${path}`, init);
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: text.trim() || response.statusText };
  }
  if (!response.ok) {
    throw new Error(body.error ?? `HTTP ${response.status}`);
  }
  return body;
}

// Samples of the Prometheus text exposition: { name, labels, value }.
async function scrape() {
  const response = await fetch("/metrics");
  if (!response.ok) {
    throw new Error(`cannot read /metrics: HTTP ${response.status}`);
  }
  const samples = [];
  for (const line of (await response.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function sum(samples, name, filter = () => true) {
  return samples.filter(s => s.name === name && filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

async function lagReport(group) {
  const response = await fetch(group ? `/v1/lag/${encodeURIComponent(group)}` : "/v1/lag");
  return response.ok ? response.json() : null;
}

// --- Drawing ----------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.flat().map(c => (c instanceof Node ? c : String(c ?? ""))));
  return node;
}

function table(headings, rows, id) {
  return el("table", { id },
    el("thead", {}, el("tr", {}, headings.map(h => el("th", { class: /^(#|Offset|Log|Lag|Committed|Size|Records|Partition|Members|Leader|Epoch|Start offset|In flight|Acquired|Available|Deliveries|Dead-lettered|Producer|Task)/.test(h) ? "num" : undefined }, h)))),
    el("tbody", {}, rows));
}

function cell(value, numeric = false) {
  return el("td", { class: numeric ? "num" : undefined }, value ?? "-");
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) document.getElementById("notice").hidden = true;
}

function showNotice(message) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.hidden = false;
  showError("");
}

// Runs an action from a form, showing its outcome, then redraws the page.
async function act(action, done) {
  try {
    const outcome = await action();
    showNotice(done(outcome));
    await route();
  } catch (error) {
    showError(error.message);
  }
}

function adminOnly(...nodes) {
  return settings.admin_actions ? nodes : [el("p", { class: "muted" }, "Read-only console: changes need runnel serve --console-admin.")];
}

function keyValueLines(text) {
  const pairs = {};
  for (const line of text.split("\n").map(l => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`expected KEY=VALUE, got "${line}"`);
    pairs[line.slice(0, at)] = line.slice(at + 1);
  }
  return pairs;
}

function prettyValue(text) {
  if (text === null || text === undefined) return el("span", { class: "muted" }, "null");
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) return el("pre", { class: "json" }, JSON.stringify(parsed, null, 2));
  } catch {
    // Not JSON: shown as it is.
  }
  return el("pre", {}, text);
}

function bytes(n) {
  if (n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
  return `${unit ? n.toFixed(1) : n} ${units[unit]}`;
}

// --- Pages ------------------------------------------------------------------------------

async function overview() {
  const cards = el("div", { class: "cards" });
  const throughput = el("section", { id: "throughput-chart" });
  const requests = el("section", { id: "request-chart" });
  view.append(el("h1", {}, "Overview"), cards, el("div", { class: "charts" }, throughput, requests));
  const throughputChart = new LineChart(throughput, { title: "Throughput (records/s)", unit: "/s" });
  const requestChart = new LineChart(requests, { title: "Requests (per second, by API)", unit: "/s" });
  let previous = null;
  const sample = async () => {
    const [samples, topics, groups] = await Promise.all([scrape(), api("/topics"), api("/groups")]);
    const now = Date.now();
    const totals = {
      "records in": sum(samples, "runnel_topic_produced_records_total"),
      "records out": sum(samples, "runnel_topic_fetched_records_total"),
    };
    const byApi = {};
    for (const s of samples.filter(s => s.name === "runnel_requests_total")) {
      byApi[s.labels.api] = (byApi[s.labels.api] ?? 0) + s.value;
    }
    cards.replaceChildren(
      card("Topics", topics.length, "topics-count"),
      card("Groups", groups.length, "groups-count"),
      card("Records produced", totals["records in"], "records-in-total"),
      card("Bytes on disk", bytes(sum(samples, "runnel_topic_log_size_bytes")), "bytes-on-disk"));
    if (previous) {
      const seconds = Math.max(0.001, (now - previous.time) / 1000);
      const rate = (value, before) => Math.max(0, (value - (before ?? 0)) / seconds);
      throughputChart.add(now, Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, rate(v, previous.totals[k])])));
      const busiest = Object.keys(byApi).sort((a, b) => rate(byApi[b], previous.byApi[b]) - rate(byApi[a], previous.byApi[a])).slice(0, 6);
      requestChart.add(now, Object.fromEntries(busiest.map(name => [name, rate(byApi[name], previous.byApi[name])])));
    }
    previous = { time: now, totals, byApi };
  };
  await sample();
  return sample;
}

function card(label, value, id) {
  return el("div", { class: "card", id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

async function topicsPage() {
  const names = await api("/topics");
  const nameInput = el("input", { name: "name", required: true, placeholder: "orders" });
  const partitions = el("input", { name: "partitions", type: "number", min: 1, placeholder: "default" });
  const configs = el("textarea", { name: "configs", placeholder: "retention.ms=86400000" });
  const create = el("form", { id: "create-topic", onsubmit: event => {
    event.preventDefault();
    act(() => api("/topics", { method: "POST", body: {
      name: nameInput.value.trim(),
      partitions: partitions.value ? Number(partitions.value) : undefined,
      configs: keyValueLines(configs.value),
    } }), outcome => outcome.done);
  } }, el("label", {}, "Name", nameInput), el("label", {}, "Partitions", partitions),
  el("label", {}, "Settings (KEY=VALUE lines)", configs), el("button", { type: "submit" }, "Create topic"));
  view.append(el("h1", {}, "Topics"),
    el("section", {}, table(["Topic"], names.map(name => el("tr", {}, el("td", {}, el("a", { href: `#/topics/${encodeURIComponent(name)}` }, name)))), "topics")),
    el("section", {}, el("h2", {}, "Create a topic"), adminOnly(create)));
}

async function topicPage(name) {
  const [topic, samples] = await Promise.all([api(`/topics/${encodeURIComponent(name)}`), scrape()]);
  const size = partition => samples.find(s => s.name === "runnel_partition_log_size_bytes" && s.labels.topic === name && s.labels.partition === String(partition))?.value;
  const partitionRows = topic.partitions.map(p => el("tr", {},
    cell(p.partition, true), cell(p.leader, true), cell(p.log_start, true), cell(p.log_end, true),
    cell(p.log_end - p.log_start, true), cell(bytes(size(p.partition)), true)));
  const configRows = topic.configs.map(c => el("tr", {}, cell(c.name), cell(c.value), cell(c.source),
    el("td", {}, settings.admin_actions && c.source === "override"
      ? el("button", { class: "danger", onclick: () => act(() => api(`/topics/${encodeURIComponent(name)}/configs`, { method: "PUT", body: { delete: [c.name] } }), o => o.done) }, "Remove override")
      : "")));
  const key = el("input", { name: "config-name", placeholder: "retention.ms" });
  const value = el("input", { name: "config-value" });
  const alter = el("form", { id: "alter-config", onsubmit: event => {
    event.preventDefault();
    act(() => api(`/topics/${encodeURIComponent(name)}/configs`, { method: "PUT", body: { set: { [key.value.trim()]: value.value } } }), o => o.done);
  } }, el("label", {}, "Setting", key), el("label", {}, "Value", value), el("button", { type: "submit" }, "Set"));
  let armed = false;
  const remove = el("button", { class: "danger", id: "delete-topic", onclick: () => {
    if (!armed) { armed = true; remove.textContent = `Click again to delete ${name} and all its records`; return; }
    act(() => api(`/topics/${encodeURIComponent(name)}`, { method: "DELETE" }), o => { location.hash = "#/topics"; return o.done; });
  } }, "Delete topic");
  view.append(el("h1", {}, `Topic ${name}`),
    el("section", {}, el("h2", {}, "Partitions"), table(["Partition", "Leader", "Log start", "Log end", "Records", "Size"], partitionRows, "partitions")),
    el("section", {}, el("h2", {}, "Messages"), browser(topic)),
    el("section", {}, el("h2", {}, "Produce a record"), adminOnly(producer(topic))),
    el("section", {}, el("h2", {}, "Settings"), table(["Setting", "Value", "Source", ""], configRows, "configs"), adminOnly(alter)),
    el("section", {}, adminOnly(remove)));
}

function browser(topic) {
  const partition = el("select", { name: "partition" }, topic.partitions.map(p => el("option", { value: p.partition }, `partition ${p.partition}`)));
  const mode = el("select", { name: "mode" }, el("option", { value: "offset" }, "from offset"), el("option", { value: "timestamp" }, "from time"));
  const from = el("input", { name: "from", value: "0", placeholder: "offset, or time (ISO or ms)" });
  const contains = el("input", { name: "contains", placeholder: "key or value contains" });
  const limit = el("input", { name: "limit", type: "number", min: 1, max: settings.max_page_records, value: 50 });
  const results = el("div", { id: "records" });
  const read = async offset => {
    const query = new URLSearchParams({ partition: partition.value, limit: limit.value });
    if (offset !== undefined) query.set("offset", offset);
    else if (mode.value === "offset") query.set("offset", from.value.trim() || "0");
    else {
      const text = from.value.trim();
      const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (Number.isNaN(ms)) throw new Error(`not a time: "${text}"`);
      query.set("timestamp", ms);
    }
    if (contains.value) query.set("contains", contains.value);
    const page = await api(`/topics/${encodeURIComponent(topic.name)}/records?${query}`);
    const rows = page.records.map(r => el("tr", {}, cell(r.offset, true),
      cell(r.timestamp === null ? "-" : new Date(r.timestamp).toISOString()),
      el("td", {}, prettyValue(r.key)), el("td", {}, prettyValue(r.value)),
      cell(r.headers.map(([k, v]) => `${k}=${v}`).join(", "))));
    const more = page.next_offset < page.log_end
      ? el("button", { onclick: () => read(page.next_offset).catch(e => showError(e.message)) }, `Next page from offset ${page.next_offset}`)
      : el("span", { class: "muted" }, `End of the log (offset ${page.log_end}).`);
    results.replaceChildren(
      el("p", { class: "muted" }, `${page.records.length} records; log from ${page.log_start} to ${page.log_end}.`),
      table(["Offset", "Timestamp", "Key", "Value", "Headers"], rows, "record-table"), more);
  };
  return el("div", {}, el("form", { id: "browse", onsubmit: event => {
    event.preventDefault();
    read().then(() => showError("")).catch(e => showError(e.message));
  } }, el("label", {}, "Partition", partition), el("label", {}, "Seek", mode), el("label", {}, "From", from),
  el("label", {}, "Filter", contains), el("label", {}, "Limit", limit), el("button", { type: "submit" }, "Read")), results);
}

function producer(topic) {
  const partition = el("select", { name: "produce-partition" }, el("option", { value: "" }, "by key"),
    topic.partitions.map(p => el("option", { value: p.partition }, `partition ${p.partition}`)));
  const key = el("input", { name: "key" });
  const value = el("textarea", { name: "value", placeholder: '{"hello": "world"}' });
  const headers = el("textarea", { name: "headers", placeholder: "KEY=VALUE lines" });
  return el("form", { id: "produce", onsubmit: event => {
    event.preventDefault();
    act(() => api(`/topics/${encodeURIComponent(topic.name)}/records`, { method: "POST", body: {
      partition: partition.value === "" ? undefined : Number(partition.value),
      key: key.value || undefined, value: value.value, headers: keyValueLines(headers.value),
    } }), w => `produced to partition ${w.partition} at offset ${w.offset}`);
  } }, el("label", {}, "Partition", partition), el("label", {}, "Key", key), el("label", {}, "Value", value),
  el("label", {}, "Headers", headers), el("button", { type: "submit" }, "Produce"));
}

async function groupsPage() {
  const [groups, lag] = await Promise.all([api("/groups"), lagReport()]);
  const status = id => lag?.groups.find(g => g.group === id);
  const rows = groups.map(g => el("tr", {},
    el("td", {}, el("a", { href: `#/${g.kind === "share" ? "share-groups" : "groups"}/${encodeURIComponent(g.group)}` }, g.group)),
    cell(g.kind), cell(g.state), cell(g.members, true),
    el("td", {}, status(g.group) ? el("span", { class: `status status-${status(g.group).status}` }, status(g.group).status) : "-"),
    cell(status(g.group)?.total_lag, true)));
  view.append(el("h1", {}, "Consumer groups"), el("section", {}, table(["Group", "Type", "State", "Members", "Status", "Lag"], rows, "groups")));
}

// A stream job (of runnel-streams-kafka, or Kafka Streams) is a consumer group named after
// its application id, which also prefixes its internal topics: <id>-<name>-changelog for its
// state stores and <id>-<name>-repartition. A job with neither shows as a plain group only.
function internalTopics(topics, id) {
  return topics.filter(name => name.startsWith(`${id}-`) && /-(changelog|repartition)$/.test(name)).sort();
}

async function streamJobsPage() {
  const [groups, topics, lag] = await Promise.all([api("/groups"), api("/topics"), lagReport()]);
  const jobs = groups.filter(g => g.kind !== "share" && internalTopics(topics, g.group).length > 0);
  const rows = jobs.map(g => {
    const status = lag?.groups.find(l => l.group === g.group);
    const links = internalTopics(topics, g.group)
      .map(name => el("a", { href: `#/topics/${encodeURIComponent(name)}`, class: "internal-topic" }, name));
    return el("tr", { "data-job": g.group },
      el("td", {}, el("a", { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group)),
      cell(g.state), cell(g.members, true),
      el("td", {}, status ? el("span", { class: `status status-${status.status}` }, status.status) : "-"),
      cell(status?.total_lag, true),
      el("td", {}, links.flatMap((link, i) => (i ? [" ", link] : [link]))));
  });
  view.append(el("h1", {}, "Stream jobs"),
    el("p", {}, "Consumer groups with changelog or repartition topics named after them. A job serves its own metrics (StreamsConfig::metrics_listen)."),
    el("section", {}, table(["Application", "State", "Members", "Status", "Lag", "Changelog and repartition topics"], rows, "stream-jobs")));
}

async function groupPage(id) {
  const header = el("div");
  const members = el("section");
  const offsets = el("section");
  const chartBox = el("section", { id: "lag-chart" });
  const reset = el("section");
  view.append(el("h1", {}, `Group ${id}`), header, members, offsets, chartBox, reset);
  const chart = new LineChart(chartBox, { title: "Lag (records behind the log end)" });
  // The first refresh also draws the past and the reset form.
  let drawn = false;
  const refresh = async () => {
    const [group, lag] = await Promise.all([api(`/groups/${encodeURIComponent(id)}`), lagReport(id)]);
    const evaluated = partition => lag?.partitions.find(p => p.topic === partition.topic && p.partition === partition.partition);
    header.replaceChildren(el("p", { id: "group-fields" },
      `State ${group.group.state} · type ${group.group.kind} · ${group.group.members.length} members`,
      lag ? [" · status ", el("span", { class: `status status-${lag.status}`, id: "group-status" }, lag.status)] : ""));
    members.replaceChildren(el("h2", {}, "Members"), table(["Member", "Client", "Host", "Assignment"],
      group.group.members.map(m => el("tr", {}, cell(m.id), cell(m.client_id), cell(m.host),
        cell(m.assignment ? m.assignment.map(([t, ps]) => `${t}:${ps.join(",")}`).join(" ") : "?")))));
    offsets.replaceChildren(el("h2", {}, "Offsets"), table(["Topic", "Partition", "Committed", "Log end", "Lag", "Member", "Status"],
      group.offsets.map(o => el("tr", {}, cell(o.topic), cell(o.partition, true), cell(o.committed, true),
        cell(o.log_end, true), cell(o.lag, true), cell(o.member),
        el("td", {}, evaluated(o) ? el("span", { class: `status status-${evaluated(o).status}` }, evaluated(o).status) : "-"))), "offsets"));
    if (!drawn) {
      // The lag at each commit the server kept (the lag evaluation's window): the chart
      // starts with the recent past.
      for (const p of lag?.partitions ?? []) {
        chart.seed(`${p.topic}-${p.partition}`, (p.history ?? []).map(c => [c.time_ms, c.lag]));
      }
    }
    chart.add(Date.now(), Object.fromEntries(group.offsets.map(o => [`${o.topic}-${o.partition}`, o.lag ?? 0])));
    if (!drawn) {
      drawn = true;
      reset.append(el("h2", {}, "Reset offsets"), ...adminOnly(resetForm(id, [...new Set(group.offsets.map(o => o.topic))])));
    }
  };
  await refresh();
  return refresh;
}

function resetForm(id, topics) {
  const topic = el("input", { name: "reset-topic", value: topics[0] ?? "", list: "group-topics" });
  const to = el("select", { name: "reset-to" }, ["earliest", "latest", "timestamp", "offset"].map(t => el("option", { value: t }, t)));
  const value = el("input", { name: "reset-value", placeholder: "offset, or time (ISO or ms)" });
  return el("form", { id: "reset-offsets", onsubmit: event => {
    event.preventDefault();
    act(() => {
      let number;
      if (to.value === "offset") number = Number(value.value);
      if (to.value === "timestamp") number = /^\d+$/.test(value.value.trim()) ? Number(value.value) : Date.parse(value.value);
      if (number !== undefined && !Number.isFinite(number)) throw new Error(`not a ${to.value}: "${value.value}"`);
      return api(`/groups/${encodeURIComponent(id)}/offsets`, { method: "POST", body: { topic: topic.value.trim(), to: to.value, value: number } });
    }, outcome => `reset ${id}: ${Object.entries(outcome.offsets).map(([p, o]) => `partition ${p} at ${o}`).join(", ")}`);
  } }, el("datalist", { id: "group-topics" }, topics.map(t => el("option", { value: t }))),
  el("label", {}, "Topic", topic), el("label", {}, "To", to), el("label", {}, "Value", value),
  el("button", { type: "submit" }, "Reset (group must have no members)"));
}

async function shareGroupPage(id) {
  const header = el("div");
  const members = el("section");
  const partitions = el("section");
  const chartBox = el("section", { id: "in-flight-chart" });
  view.append(el("h1", {}, `Share group ${id}`), header, members, partitions, chartBox);
  const chart = new LineChart(chartBox, { title: "In-flight records (acquired or waiting for redelivery)" });
  const number = value => value ?? "-";
  const refresh = async () => {
    const [group, samples] = await Promise.all([api(`/share-groups/${encodeURIComponent(id)}`), scrape()]);
    const ofGroup = labels => labels.group === id;
    header.replaceChildren(el("p", { id: "share-group-fields" },
      `State ${group.state} · epoch ${group.epoch} · assignor ${group.assignor || "-"} · ${group.members.length} members · `,
      el("span", { id: "share-in-flight" }, sum(samples, "runnel_share_group_in_flight_records", ofGroup)), " in flight · ",
      el("span", { id: "share-dead-lettered" }, sum(samples, "runnel_share_group_dead_lettered_records_total", ofGroup)), " dead-lettered"));
    members.replaceChildren(el("h2", {}, "Members"), table(["Member", "Client", "Host", "Epoch", "Assignment"],
      group.members.map(m => el("tr", {}, cell(m.id), cell(m.client_id), cell(m.host), cell(m.epoch, true),
        cell(m.assignment.map(([t, ps]) => `${t}:${ps.join(",")}`).join(" ") || "-"))), "share-members"));
    partitions.replaceChildren(el("h2", {}, "Partitions"),
      table(["Topic", "Partition", "Start offset", "In flight", "Acquired", "Available", "Deliveries (max)", "Dead-lettered"],
        group.partitions.map(p => el("tr", {}, cell(p.topic), cell(p.partition, true), cell(p.start_offset, true),
          cell(number(p.in_flight), true), cell(number(p.acquired), true), cell(number(p.available), true),
          cell(number(p.max_deliveries), true), cell(number(p.dead_lettered), true))), "share-partitions"));
    chart.add(Date.now(), Object.fromEntries(group.partitions.map(p => [`${p.topic}-${p.partition}`, p.in_flight ?? 0])));
  };
  await refresh();
  return refresh;
}

async function transactionsPage() {
  const [listed, samples] = await Promise.all([api("/transactions"), scrape()]);
  const rows = listed.map(t => el("tr", {},
    el("td", {}, el("a", { href: `#/transactions/${encodeURIComponent(t.transactional_id)}` }, t.transactional_id)),
    cell(t.producer_id, true), cell(t.state)));
  view.append(el("h1", {}, "Transactions"),
    el("p", { id: "transactions-open" }, `${sum(samples, "runnel_transactions_open")} open transactions.`),
    el("section", {}, table(["Transactional id", "Producer id", "State"], rows, "transactions")));
}

async function transactionPage(id) {
  const described = await api(`/transactions/${encodeURIComponent(id)}`);
  const fields = [
    ["State", described.state],
    ["Producer id", described.producer_id],
    ["Producer epoch", described.producer_epoch],
    ["Timeout", `${described.timeout_ms} ms`],
    ["Started", described.start_time_ms < 0 ? "-" : new Date(described.start_time_ms).toISOString()],
    ["Coordinator", `node ${described.coordinator}`],
  ];
  view.append(el("h1", {}, `Transaction ${id}`),
    el("section", {}, table(["Field", "Value"], fields.map(([name, value]) => el("tr", {}, cell(name), cell(value))), "transaction-fields")),
    el("section", {}, el("h2", {}, "Partitions in the transaction"),
      table(["Topic", "Partition"], described.partitions.map(([topic, partition]) => el("tr", {}, cell(topic), cell(partition, true))), "transaction-partitions")));
}

async function connectorsPage() {
  view.append(el("h1", {}, "Connectors"));
  if (!settings.connect) {
    view.append(el("p", { class: "muted", id: "no-connect" }, "No Connect worker: start runnel serve with --connectors, or give a worker's URL with --console-connect-url."));
    return null;
  }
  const list = el("section");
  const details = el("div");
  view.append(list, details);
  const refresh = async () => {
    const connectors = Object.values(await api("/connectors")).map(c => c.status).sort((a, b) => a.name.localeCompare(b.name));
    list.replaceChildren(table(["Connector", "Type", "State", "Tasks", "Worker", ""], connectors.map(c => el("tr", { "data-connector": c.name },
      cell(c.name), cell(c.type), el("td", {}, el("span", { class: `status status-${c.connector.state}` }, c.connector.state)),
      cell(c.tasks.length, true), cell(c.connector.worker_id),
      el("td", {}, settings.admin_actions ? ["pause", "resume", "restart"].map(action => el("button", {
        "data-action": action,
        onclick: () => act(() => api(`/connectors/${encodeURIComponent(c.name)}/${action}`, { method: "POST" }), o => o.done),
      }, action)) : ""))), "connectors"));
    details.replaceChildren(...connectors.map(c => el("section", { "data-tasks": c.name },
      el("h2", {}, `${c.name}: tasks`),
      c.connector.trace ? el("p", { class: "error-text" }, c.connector.trace) : "",
      table(["Task", "State", "Records polled", "Records written", "Records failed", "Records dead-lettered", "Error"],
        c.tasks.map(t => el("tr", {}, cell(t.id, true),
          el("td", {}, el("span", { class: `status status-${t.state}` }, t.state)),
          cell(t.records_polled, true), cell(t.records_written, true), cell(t.records_failed, true), cell(t.records_dead_lettered, true),
          cell(t.trace ?? (t.retrying ? `retrying (attempt ${t.retrying.attempts}): ${t.retrying.last_error}` : "-"))))))));
  };
  await refresh();
  return refresh;
}

// --- Routing ----------------------------------------------------------------------------

async function route() {
  clearInterval(timer);
  timer = null;
  const [page, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const argument = rest.length ? decodeURIComponent(rest.join("/")) : null;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("current", link.dataset.nav === (page || "overview"));
  }
  view.replaceChildren();
  try {
    let refresh;
    if (page === "topics" && argument) await topicPage(argument);
    else if (page === "topics") await topicsPage();
    else if (page === "groups" && argument) refresh = await groupPage(argument);
    else if (page === "groups") await groupsPage();
    else if (page === "share-groups" && argument) refresh = await shareGroupPage(argument);
    else if (page === "transactions" && argument) await transactionPage(argument);
    else if (page === "transactions") await transactionsPage();
    else if (page === "connectors") refresh = await connectorsPage();
    else if (page === "stream-jobs") await streamJobsPage();
    else refresh = await overview();
    if (refresh) {
      timer = setInterval(() => refresh().catch(error => showError(error.message)), REFRESH_MS);
    }
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  try {
    settings = await api("/settings");
  } catch (error) {
    showError(error.message);
  }
  document.getElementById("mode").textContent = settings.admin_actions ? "admin actions on" : "read-only";
  window.addEventListener("hashchange", () => { showError(""); document.getElementById("notice").hidden = true; route(); });
  await route();
}

start();
