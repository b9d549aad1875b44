// What needs attention in the caller's supply offices: applications near or past a
// node's deadline, feedback about to breach its deadline, current and upcoming
// outages, supply offices at high complaint risk. Each part shows only when the caller
// may read it.

import { get } from "../api.js";
import { describe, h, table } from "../dom.js";
import { id, label, time } from "../format.js";

const SOON_MS = 48 * 3600 * 1000;

async function part(title, load) {
  try {
    return h("section", { class: "card" }, h("h2", {}, title), await load());
  } catch (error) {
    return h("section", { class: "card" }, h("h2", {}, title), h("p", { class: "notice error" }, describe(error)));
  }
}

function dueNode(application) {
  return (application.nodes || []).find((n) => n.state === "NODE_STATE_IN_PROGRESS") || {};
}

function overdue(value) {
  return value && Date.parse(value) < Date.now() ? h("strong", { class: "late" }, `${time(value)}（已超期）`) : time(value);
}

export const dashboardPage = {
  path: "dashboard",
  title: "工作台",
  permission: "",
  async render({ permitted }) {
    const parts = [];
    if (permitted("expansion.applications.listDue")) {
      parts.push(
        part("临近或超过时限的业扩申请", async () => {
          const reply = await get("/v1/applications:listDue", { dueWithin: "172800s", pageSize: 10 });
          return table(
            [
              ["申请", (a) => h("a", { href: `#/applications/${id(a.name)}` }, id(a.name))],
              ["类型", (a) => label(a.kind)],
              ["当前环节", (a) => label(a.currentNode)],
              ["环节时限", (a) => overdue(dueNode(a).dueTime)],
            ],
            reply.applications || [],
            "没有临近时限的申请",
          );
        }),
      );
    }
    if (permitted("care.feedback.list")) {
      parts.push(
        part("即将超时的客户诉求", async () => {
          const reply = await get("/v1/feedback", { orderBy: "priority", pageSize: 50 });
          const open = (reply.feedback || []).filter(
            (f) =>
              !["FEEDBACK_STATE_RESOLVED", "FEEDBACK_STATE_CLOSED"].includes(f.state) &&
              f.dueTime &&
              Date.parse(f.dueTime) - Date.now() < SOON_MS,
          );
          return table(
            [
              ["诉求", (f) => h("a", { href: `#/feedback/${id(f.name)}` }, id(f.name))],
              ["类型", (f) => label(f.kind)],
              ["状态", (f) => label(f.state)],
              ["处理时限", (f) => overdue(f.dueTime)],
            ],
            open.slice(0, 10),
            "没有即将超时的诉求",
          );
        }),
      );
    }
    parts.push(
      part("当前及即将发生的停电", async () => {
        const reply = await get("/v1/outages", { pageSize: 10 });
        return table(
          [
            ["类型", (o) => label(o.kind)],
            ["状态", (o) => label(o.state)],
            ["范围", (o) => o.areaDescription || (o.areaCodes || []).join("、")],
            ["开始", (o) => time(o.startTime)],
            ["预计恢复", (o) => time(o.estimatedRestoreTime || o.endTime)],
          ],
          reply.outages || [],
          "没有停电安排",
        );
      }),
    );
    if (permitted("care.complaintRisks.list")) {
      parts.push(
        part("投诉风险较高的供电所", async () => {
          const reply = await get("/v1/complaintRisks", { pageSize: 100 });
          const high = (reply.complaintRisks || []).filter(
            (r) => r.subject.startsWith("supplyOffices/") && ["RISK_LEVEL_HIGH", "RISK_LEVEL_CRITICAL"].includes(r.level),
          );
          return table(
            [
              ["供电所", (r) => id(r.subject)],
              ["风险等级", (r) => label(r.level)],
              ["原因", (r) => (r.reasons || []).map((x) => x.description || x.kind).join("；")],
              ["评估时间", (r) => time(r.computeTime)],
            ],
            high,
            "没有高风险供电所",
          );
        }),
      );
    }
    return h("div", { class: "dashboard" }, await Promise.all(parts));
  },
};
