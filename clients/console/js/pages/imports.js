// Import jobs and quarantined records: the jobs with their counts, starting one from
// the staging database or from a CSV file (run batch by batch here, the progress shown
// as it goes), and the records that failed their checks, reprocessed or discarded.

import { get, post } from "../api.js";
import { action, field, h, notice } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";

const SOURCES = [
  "IMPORT_SOURCE_CUSTOMERS",
  "IMPORT_SOURCE_METER_READINGS",
  "IMPORT_SOURCE_PAYMENTS",
  "IMPORT_SOURCE_TARIFF_ASSIGNMENTS",
];
const ACTIVE = ["IMPORT_JOB_STATE_QUEUED", "IMPORT_JOB_STATE_RUNNING"];
// Rows per RunImportJob call: small enough that the progress moves visibly.
const BATCH_ROWS = 500;
// How often a job the worker runs is read again.
const POLL_MS = 2000;

function progress(job) {
  const total = Number(job.totalCount || 0);
  const read = Number(job.readCount || 0);
  return total ? `${read} / ${total}` : `${read}`;
}

async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  // btoa takes a binary string; built in chunks to keep argument lists short.
  for (let at = 0; at < bytes.length; at += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(text);
}

/** Runs `job` to its end batch by batch when the caller may, else follows it while the
 *  worker runs it; `report` is told each step. */
async function follow(job, permitted, report) {
  report(job);
  while (ACTIVE.includes(job.state)) {
    if (permitted("ingest.importJobs.run")) {
      job = await post(`/v1/${job.name}:run`, { maxRows: BATCH_ROWS });
    } else {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await get(`/v1/${job.name}`);
    }
    report(job);
  }
  return job;
}

function startForm(permitted, status, reload) {
  const source = h("select", { name: "source" }, SOURCES.map((s) => h("option", { value: s }, label(s))));
  const file = h("input", { name: "csvFile", type: "file", accept: ".csv,text/csv" });
  const start = action(
    "开始导入",
    status,
    async () => {
      const body = { importJob: { source: source.value }, requestId: crypto.randomUUID() };
      if (file.files.length) body.csvFile = await base64(file.files[0]);
      const made = await post("/v1/importJobs", body);
      const ended = await follow(made, permitted, (job) => {
        notice(status, `${id(job.name)}：${label(job.state)}，已读 ${progress(job)}`, "busy");
      });
      await reload();
      return (
        `${id(ended.name)}：${label(ended.state)}，已读 ${progress(ended)}，应用 ${ended.appliedCount || 0}，` +
        `未变 ${ended.unchangedCount || 0}，隔离 ${ended.rejectedCount || 0}`
      );
    },
    { kind: "primary" },
  );
  return h(
    "form",
    { class: "grid-form" },
    field("数据来源", source),
    field("CSV 文件（不选则读中间库）", file),
    start,
  );
}

function jobActions(job, permitted, status, reload) {
  if (!ACTIVE.includes(job.state) || !permitted("ingest.importJobs.cancel")) return "";
  return action("取消", status, async () => {
    await post(`/v1/${job.name}:cancel`, {});
    await reload();
  });
}

function jobList(permitted, status) {
  const view = pagedList(
    [
      ["任务", (j) => id(j.name) + (j.fromFile ? "（文件）" : "")],
      ["来源", (j) => label(j.source)],
      ["状态", (j) => label(j.state)],
      ["已读", progress],
      ["应用", (j) => j.appliedCount || "0"],
      ["未变", (j) => j.unchangedCount || "0"],
      ["隔离", (j) => j.rejectedCount || "0"],
      ["创建时间", (j) => time(j.createTime)],
      ["操作", (j) => jobActions(j, permitted, status, () => view.reload())],
    ],
    async (pageToken) => {
      const reply = await get("/v1/importJobs", { pageSize: 10, pageToken });
      return { rows: reply.importJobs || [], next: reply.nextPageToken };
    },
    "尚无导入任务",
  );
  return view;
}

function recordActions(record, permitted, status, reload) {
  if (record.state !== "QUARANTINE_STATE_OPEN") return "";
  const buttons = [];
  if (permitted("ingest.quarantinedRecords.reprocess")) {
    buttons.push(
      action("重新处理", status, async () => {
        const after = await post(`/v1/${record.name}:reprocess`, { etag: record.etag });
        await reload();
        return `${id(after.name)}：${label(after.state)}${after.state === "QUARANTINE_STATE_OPEN" ? `（${after.reason}）` : ""}`;
      }),
    );
  }
  if (permitted("ingest.quarantinedRecords.discard")) {
    const reason = h("input", { "aria-label": `丢弃 ${id(record.name)} 的原因`, name: "discard-reason" });
    buttons.push(
      reason,
      action("丢弃", status, async () => {
        await post(`/v1/${record.name}:discard`, { reason: reason.value, etag: record.etag });
        await reload();
      }),
    );
  }
  return h("div", { class: "row-actions" }, buttons);
}

function recordList(permitted, status) {
  const view = pagedList(
    [
      ["记录", (r) => id(r.name)],
      ["类型", (r) => label(r.kind)],
      ["来源", (r) => r.source],
      ["源编号", (r) => r.sourceId],
      ["原因", (r) => [label(r.reason), r.field ? ` · ${r.field}` : "", r.message ? `：${r.message}` : ""].join("")],
      ["隔离时间", (r) => time(r.createTime)],
      ["操作", (r) => recordActions(r, permitted, status, () => view.reload())],
    ],
    async (pageToken) => {
      const reply = await get("/v1/quarantinedRecords", { pageSize: 10, pageToken });
      return { rows: reply.quarantinedRecords || [], next: reply.nextPageToken };
    },
    "没有待处理的隔离记录",
  );
  return view;
}

export const importsPage = {
  path: "imports",
  title: "数据导入",
  permission: "ingest.importJobs.list",
  async render({ permitted }) {
    const status = h("p", { role: "status", class: "notice" });
    const jobs = jobList(permitted, status);
    const records = permitted("ingest.quarantinedRecords.list") ? recordList(permitted, status) : null;
    await Promise.all([jobs.ready, records && records.ready]);
    // An import quarantines records: both lists are read again after one.
    const reload = () => Promise.all([jobs.reload(), records && records.reload()]);
    return h(
      "div",
      {},
      permitted("ingest.importJobs.create") ? [h("h2", {}, "新建导入"), startForm(permitted, status, reload)] : null,
      status,
      h("h2", {}, "导入任务"),
      jobs,
      records ? [h("h2", {}, "隔离记录（待处理）"), records] : null,
    );
  },
};
