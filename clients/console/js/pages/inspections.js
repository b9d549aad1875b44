// Inspection tasks in the caller's scope, and one task with its findings: items
// checked, meter reading, violation, seal, place and the photos taken on site.

import { get, post } from "../api.js";
import { action, field, h, table } from "../dom.js";
import { pagedList } from "../list.js";
import { id, kwh, label, time } from "../format.js";

const SERVICE = "palmgrid.inspection.v1.InspectionService.";

function photo(p, index) {
  // Photos sent as bytes come back as base64; one stored elsewhere is named by its URI.
  if (p.data) {
    return h("img", { src: `data:${p.contentType};base64,${p.data}`, alt: `现场照片 ${index + 1}`, class: "photo" });
  }
  return h("span", { class: "muted" }, `照片 ${index + 1}：${p.uri}`);
}

function finding(f) {
  return h(
    "article",
    { class: "card" },
    h("h3", {}, `${time(f.observeTime)} · ${f.inspector}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "违约情形"), h("dd", {}, f.violationKind.replace("VIOLATION_KIND_", "")),
      h("dt", {}, "封印"), h("dd", {}, (f.sealState || "").replace("SEAL_STATE_", "") || "—"),
      h("dt", {}, "表计示数"), h("dd", {}, f.meterReading ? `${f.meterReading.meterNumber}：${kwh(f.meterReading.registerWh)}` : "—"),
      h("dt", {}, "位置"), h("dd", {}, f.location ? `${f.location.latitude}, ${f.location.longitude}` : "—"),
      h("dt", {}, "说明"), h("dd", {}, f.note || "—"),
    ),
    table(
      [
        ["检查项", (c) => (c.item || "").replace("CHECK_ITEM_", "")],
        ["结果", (c) => (c.result || "").replace("CHECK_RESULT_", "")],
        ["备注", (c) => c.note || ""],
      ],
      f.checkedItems || [],
      "无检查项",
    ),
    h("div", { class: "photos" }, (f.photos || []).map(photo)),
  );
}

async function detail(inspectionId, permitted, refresh) {
  const name = `inspections/${inspectionId}`;
  const [task, findings] = await Promise.all([
    get(`/v1/${name}`, undefined, `${SERVICE}GetInspection`),
    get(`/v1/${name}/findings`, { pageSize: 50 }, `${SERVICE}ListFindings`),
  ]);
  const status = h("p", { role: "status", class: "notice" });
  const open = ["INSPECTION_STATE_PENDING", "INSPECTION_STATE_IN_PROGRESS"].includes(task.state);
  const reason = h("input", { name: "cancel-reason" });
  const cancel =
    open && permitted("inspection.inspections.cancel")
      ? h(
          "div",
          { class: "actions" },
          field("取消原因", reason),
          action("取消任务", status, async () => {
            await post(`/v1/${name}:cancel`, { reason: reason.value });
            refresh();
          }),
          status,
        )
      : null;
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/inspections" }, "← 返回列表")),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "任务"), h("dd", {}, inspectionId),
      h("dt", {}, "类型"), h("dd", {}, label(task.kind)),
      h("dt", {}, "状态"), h("dd", {}, label(task.state)),
      h("dt", {}, "户号"), h("dd", {}, id(task.customer)),
      h("dt", {}, "地址"), h("dd", {}, task.address || "—"),
      h("dt", {}, "检查人员"), h("dd", {}, (task.assignees || []).join("、")),
      h("dt", {}, "期限"), h("dd", {}, time(task.dueTime)),
      h("dt", {}, "说明"), h("dd", {}, task.description || "—"),
    ),
    cancel,
    h("h2", {}, "现场记录"),
    (findings.findings || []).length ? findings.findings.map(finding) : h("p", { class: "empty" }, "尚无现场记录"),
  );
}

async function list() {
  const view = pagedList(
    [
      ["任务", (t) => h("a", { href: `#/inspections/${id(t.name)}` }, id(t.name))],
      ["类型", (t) => label(t.kind)],
      ["状态", (t) => label(t.state)],
      ["户号", (t) => id(t.customer)],
      ["期限", (t) => time(t.dueTime)],
    ],
    async (pageToken) => {
      const reply = await get("/v1/inspections", { pageSize: 20, pageToken }, `${SERVICE}ListInspections`);
      return { rows: reply.inspections || [], next: reply.nextPageToken };
    },
  );
  await view.ready;
  return view;
}

export const inspectionsPage = {
  path: "inspections",
  title: "用电检查",
  permission: "inspection.inspections.list",
  render({ args, permitted, refresh }) {
    return args[0] ? detail(args[0], permitted, refresh) : list();
  },
};
