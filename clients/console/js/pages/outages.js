// Outages: current and upcoming ones, announcing one (planned at least the notice
// period ahead unless urgent, or unplanned), changing its times, cancelling a planned
// one, marking power restored.

import { call, get, post } from "../api.js";
import { action, field, h, show, table } from "../dom.js";
import { fromLocalInput, id, label, time } from "../format.js";

function announceForm(caller, status, reload) {
  const kind = h(
    "select",
    { name: "kind" },
    ["OUTAGE_KIND_PLANNED", "OUTAGE_KIND_UNPLANNED"].map((k) => h("option", { value: k }, label(k))),
  );
  const offices = caller.supplyOffices || [];
  const office = offices.length
    ? h("select", { name: "supplyOffice" }, offices.map((o) => h("option", { value: o }, o)))
    : h("input", { name: "supplyOffice", placeholder: "如 QJ-QL" });
  const areas = h("input", { name: "areaCodes", placeholder: "如 A01,A02" });
  const description = h("input", { name: "areaDescription" });
  const start = h("input", { name: "startTime", type: "datetime-local" });
  const end = h("input", { name: "endTime", type: "datetime-local" });
  const reason = h("input", { name: "reason" });
  const urgent = h("input", { name: "urgent", type: "checkbox" });
  const urgentReason = h("input", { name: "urgentReason" });
  const submit = action(
    "发布停电公告",
    status,
    async () => {
      const planned = kind.value === "OUTAGE_KIND_PLANNED";
      const outage = {
        kind: kind.value,
        supplyOffice: office.value.trim(),
        areaCodes: areas.value.split(/[,，\s]+/).filter(Boolean),
        areaDescription: description.value,
        startTime: fromLocalInput(start.value),
        reason: reason.value,
      };
      if (planned) outage.endTime = fromLocalInput(end.value);
      else if (end.value) outage.estimatedRestoreTime = fromLocalInput(end.value);
      if (urgent.checked) Object.assign(outage, { urgent: true, urgentReason: urgentReason.value });
      const made = await call("POST", "/v1/outages", { body: outage, params: { requestId: crypto.randomUUID() } });
      await reload();
      return `已发布：${id(made.name)}`;
    },
    { kind: "primary" },
  );
  return h(
    "form",
    { class: "grid-form" },
    field("类型", kind),
    field("供电所", office),
    field("台区编码", areas),
    field("停电范围说明", description),
    field("开始时间（北京时间）", start),
    field("结束 / 预计恢复时间", end),
    field("原因", reason),
    field("紧急（不足公告期）", urgent),
    field("紧急原因", urgentReason),
    submit,
  );
}

function rowActions(outage, permitted, status, reload) {
  const buttons = [];
  const name = outage.name;
  if (outage.state === "OUTAGE_STATE_SCHEDULED" && permitted("outage.outages.update")) {
    const end = h("input", { type: "datetime-local", "aria-label": "新的结束时间" });
    buttons.push(
      end,
      action("改结束时间", status, async () => {
        const which = outage.kind === "OUTAGE_KIND_PLANNED" ? "endTime" : "estimatedRestoreTime";
        await call("PATCH", `/v1/${name}`, {
          body: { [which]: fromLocalInput(end.value), etag: outage.etag },
          params: { updateMask: which },
        });
        await reload();
      }),
    );
  }
  if (outage.state === "OUTAGE_STATE_SCHEDULED" && permitted("outage.outages.cancel")) {
    buttons.push(
      action("取消", status, async () => {
        await post(`/v1/${name}:cancel`, { reason: "计划调整", etag: outage.etag });
        await reload();
      }),
    );
  }
  if (outage.state === "OUTAGE_STATE_ACTIVE" && permitted("outage.outages.restore")) {
    buttons.push(
      action("已恢复送电", status, async () => {
        await post(`/v1/${name}:restore`, { note: "已恢复", etag: outage.etag });
        await reload();
      }),
    );
  }
  return h("div", { class: "row-actions" }, buttons);
}

export const outagesPage = {
  path: "outages",
  title: "停电管理",
  permission: "outage.outages.create",
  async render({ permitted, caller }) {
    const status = h("p", { role: "status", class: "notice" });
    const list = h("div", {});
    const reload = async () => {
      const reply = await get("/v1/outages", { pageSize: 50 });
      show(list, outageTable(reply.outages || [], permitted, status, reload));
    };
    await reload();
    return h(
      "div",
      {},
      h("h2", {}, "发布停电公告"),
      announceForm(caller, status, reload),
      status,
      h("h2", {}, "当前及即将发生的停电"),
      list,
    );
  },
};

function outageTable(outages, permitted, status, reload) {
  return table(
    [
      ["编号", (o) => id(o.name)],
      ["类型", (o) => label(o.kind)],
      ["状态", (o) => label(o.state)],
      ["供电所", (o) => o.supplyOffice],
      ["台区", (o) => (o.areaCodes || []).join("、")],
      ["范围", (o) => o.areaDescription],
      ["开始", (o) => time(o.startTime)],
      ["结束 / 预计恢复", (o) => time(o.endTime || o.estimatedRestoreTime)],
      ["操作", (o) => rowActions(o, permitted, status, reload)],
    ],
    outages,
    "没有当前或即将发生的停电",
  );
}
