// The worker's jobs: each with its schedule, last run and outcome and next run, the
// runs of one job, and "run now" (which makes the job due: the next free worker runs
// it under its lease).

import { get, post } from "../api.js";
import { action, h } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";

function seconds(duration) {
  // Durations arrive as "1.250s".
  return duration ? `${Number.parseFloat(duration).toFixed(1)} 秒` : "—";
}

function outcome(run) {
  if (!run) return "尚未运行";
  return run.message ? `${label(run.outcome)}：${run.message}` : label(run.outcome);
}

function runs(jobId) {
  const view = pagedList(
    [
      ["开始", (r) => time(r.startTime)],
      ["结束", (r) => time(r.endTime)],
      ["用时", (r) => seconds(r.duration)],
      ["结果", outcome],
      ["执行者", (r) => r.worker || "—"],
    ],
    async (pageToken) => {
      const reply = await get(`/v1/jobs/${jobId}/runs`, { pageSize: 20, pageToken });
      return { rows: reply.jobRuns || [], next: reply.nextPageToken };
    },
    "尚无运行记录",
  );
  return view.ready.then(() =>
    h("div", {}, h("p", {}, h("a", { href: "#/jobs" }, "← 返回列表")), h("h2", {}, `${jobId} 的运行记录`), view),
  );
}

function runNow(job, permitted, status, reload) {
  if (!permitted("worker.jobs.run")) return "";
  return action("立即运行", status, async () => {
    const due = await post(`/v1/${job.name}:run`, {});
    await reload();
    return `${id(due.name)} 已排队，下次运行 ${time(due.nextRunTime)}`;
  });
}

function list(permitted) {
  const status = h("p", { role: "status", class: "notice" });
  const view = pagedList(
    [
      ["任务", (j) => h("a", { href: `#/jobs/${id(j.name)}` }, id(j.name))],
      ["计划", (j) => j.schedule],
      ["上次运行", (j) => (j.lastRun ? time(j.lastRun.endTime || j.lastRun.startTime) : "—")],
      ["结果", (j) => outcome(j.lastRun)],
      ["正在运行", (j) => j.runningOn || "—"],
      ["下次运行", (j) => time(j.nextRunTime)],
      ["次数 / 失败", (j) => `${j.runCount || 0} / ${j.failureCount || 0}`],
      ["操作", (j) => runNow(j, permitted, status, () => view.reload())],
    ],
    async (pageToken) => {
      const reply = await get("/v1/jobs", { pageSize: 50, pageToken });
      return { rows: reply.jobs || [], next: reply.nextPageToken };
    },
    "没有任务",
  );
  return view.ready.then(() => h("div", {}, status, view));
}

export const jobsPage = {
  path: "jobs",
  title: "后台任务",
  permission: "worker.jobs.list",
  render({ args, permitted }) {
    return args[0] ? runs(args[0]) : list(permitted);
  },
};
