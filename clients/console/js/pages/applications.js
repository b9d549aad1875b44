// Connection applications (业扩报装): the list, and one application's node timeline
// with the actions on its current node: advance, return for documents, reject.

import { get, post } from "../api.js";
import { action, field, h } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";

const GET = "palmgrid.expansion.v1.ExpansionService.GetApplication";

function nodeItem(node) {
  const late = node.dueTime && !node.completeTime && Date.parse(node.dueTime) < Date.now();
  return h(
    "li",
    { class: `node ${node.state.toLowerCase().replace(/_/g, "-")}${late ? " late" : ""}` },
    h("strong", {}, label(node.kind)),
    h("span", { class: "badge" }, label(node.state)),
    h("div", { class: "muted" }, `开始 ${time(node.startTime)} · 时限 ${time(node.dueTime)} · 完成 ${time(node.completeTime)}`),
    late ? h("div", { class: "late" }, "已超过时限") : null,
    node.note ? h("div", {}, `备注：${node.note}`) : null,
  );
}

async function detail(applicationId, permitted, refresh) {
  const name = `applications/${applicationId}`;
  const app = await get(`/v1/${name}`, undefined, GET);
  const status = h("p", { role: "status", class: "notice" });
  const note = h("textarea", { rows: 2, name: "note" });
  const open = app.state === "APPLICATION_STATE_IN_PROGRESS";
  const actions = [];
  if (open && permitted("expansion.applications.advance")) {
    actions.push(
      action("完成当前环节", status, async () => {
        await post(`/v1/${name}:advance`, { note: note.value, node: app.currentNode });
        refresh();
      }, { kind: "primary" }),
    );
  }
  if (open && permitted("expansion.applications.sendBack")) {
    actions.push(
      action("退回补件", status, async () => {
        await post(`/v1/${name}:sendBack`, { reason: note.value });
        refresh();
      }),
    );
  }
  if (open && permitted("expansion.applications.reject")) {
    actions.push(
      action("驳回", status, async () => {
        await post(`/v1/${name}:reject`, { reason: note.value });
        refresh();
      }),
    );
  }
  return h(
    "div",
    { class: "columns" },
    h(
      "div",
      {},
      h("p", {}, h("a", { href: "#/applications" }, "← 返回列表")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "编号"), h("dd", {}, applicationId),
        h("dt", {}, "类型"), h("dd", {}, label(app.kind)),
        h("dt", {}, "状态"), h("dd", {}, label(app.state)),
        h("dt", {}, "申请人"), h("dd", {}, (app.applicant && app.applicant.name) || "—"),
        h("dt", {}, "地址"), h("dd", {}, app.address),
        h("dt", {}, "申请时间"), h("dd", {}, time(app.createTime)),
      ),
      h("h2", {}, "办理环节"),
      h("ol", { class: "nodes", "aria-label": "办理环节时间线" }, (app.nodes || []).map(nodeItem)),
    ),
    actions.length ? h("div", { class: "actions" }, h("h2", {}, "办理"), field("备注 / 原因", note), actions, status) : null,
  );
}

async function list() {
  const view = pagedList(
    [
      ["编号", (a) => h("a", { href: `#/applications/${id(a.name)}` }, id(a.name))],
      ["类型", (a) => label(a.kind)],
      ["状态", (a) => label(a.state)],
      ["当前环节", (a) => label(a.currentNode)],
      ["地址", (a) => a.address],
      ["申请时间", (a) => time(a.createTime)],
    ],
    async (pageToken) => {
      const reply = await get("/v1/applications", { pageSize: 20, pageToken });
      return { rows: reply.applications || [], next: reply.nextPageToken };
    },
  );
  await view.ready;
  return view;
}

export const applicationsPage = {
  path: "applications",
  title: "业扩报装",
  permission: "expansion.applications.list",
  render({ args, permitted, refresh }) {
    return args[0] ? detail(args[0], permitted, refresh) : list();
  },
};
