// The audit log, newest first, and a check of its hash chain.

import { get, post } from "../api.js";
import { action, h, notice } from "../dom.js";
import { pagedList } from "../list.js";
import { time } from "../format.js";

export const auditPage = {
  path: "audit",
  title: "审计日志",
  permission: "account.auditRecords.list",
  async render({ permitted }) {
    const status = h("p", { role: "status", class: "notice" });
    const check = permitted("account.auditRecords.verify")
      ? action("校验哈希链", status, async () => {
          const reply = await post("/v1/auditRecords:verifyChain", {});
          if (!reply.valid) {
            notice(status, `链校验失败：${reply.firstInvalidRecord} ${reply.problem}`, "error");
            throw new Error(`链校验失败：${reply.firstInvalidRecord} ${reply.problem}`);
          }
          return `链完整：已校验 ${reply.verifiedCount} 条记录（序号 ${reply.startSequence}–${reply.endSequence}）。`;
        })
      : null;
    const list = pagedList(
      [
        ["时间", (r) => time(r.eventTime)],
        ["操作人", (r) => r.actorUsername || r.actor],
        ["操作", (r) => r.action.split("/").pop()],
        ["对象", (r) => r.resource],
        ["结果", (r) => (r.code && r.code !== "OK" ? `${r.code} ${r.errorReason}` : "成功")],
        ["来源", (r) => r.clientIp || "—"],
      ],
      async (pageToken) => {
        const reply = await get("/v1/auditRecords", { pageSize: 20, pageToken });
        return { rows: reply.auditRecords || [], next: reply.nextPageToken };
      },
    );
    await list.ready;
    return h("div", {}, h("div", { class: "buttons" }, check), status, list);
  },
};
