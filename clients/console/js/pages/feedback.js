// The feedback queue: the work list (open first, high-risk customers first, then by
// due time), and one item with its history and the actions the caller may take.

import { get, post } from "../api.js";
import { action, field, h } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";

const GET = "palmgrid.care.v1.CareService.GetFeedback";
const LIST = "palmgrid.care.v1.CareService.ListFeedback";

function list() {
  const columns = [
    ["编号", (f) => h("a", { href: `#/feedback/${id(f.name)}` }, id(f.name))],
    ["类型", (f) => label(f.kind)],
    ["内容", (f) => f.content.slice(0, 40)],
    ["状态", (f) => label(f.state)],
    ["户号", (f) => id(f.customer) || "—"],
    ["处理时限", (f) => time(f.dueTime)],
  ];
  const view = pagedList(columns, async (pageToken) => {
    const reply = await get("/v1/feedback", { orderBy: "priority", pageSize: 20, pageToken }, LIST);
    return { rows: reply.feedback || [], next: reply.nextPageToken };
  });
  return view.ready.then(() => view);
}

async function detail(feedbackId, permitted, caller, refresh) {
  const name = `feedback/${feedbackId}`;
  const item = await get(`/v1/${name}`, undefined, GET);
  const status = h("p", { role: "status", class: "notice" });
  const actions = [];
  if (permitted("care.feedback.assign")) {
    actions.push(
      action("分派给我", status, async () => {
        await post(`/v1/${name}:assign`, { assignee: caller.name });
        refresh();
        return "已分派给您。";
      }),
    );
  }
  // Each step: the permission, its text box, the verb and the request field it fills.
  const steps = [
    ["care.feedback.reply", "答复内容", "答复", "reply", "text", 3],
    ["care.feedback.resolve", "处理结果", "办结", "resolve", "resolution", 2],
    ["care.feedback.close", "关闭原因", "关闭", "close", "reason", 1],
  ];
  for (const [permission, title, button, verb, key, rows] of steps) {
    if (!permitted(permission)) continue;
    const text = h("textarea", { rows, name: verb });
    actions.push(
      field(title, text),
      action(button, status, async () => {
        await post(`/v1/${name}:${verb}`, { [key]: text.value });
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
      h("p", {}, h("a", { href: "#/feedback" }, "← 返回列表")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "编号"), h("dd", {}, feedbackId),
        h("dt", {}, "类型"), h("dd", {}, label(item.kind)),
        h("dt", {}, "状态"), h("dd", { id: "feedback-state" }, label(item.state)),
        h("dt", {}, "户号"), h("dd", {}, id(item.customer) || "—"),
        h("dt", {}, "联系人"), h("dd", {}, item.contactName || "—"),
        h("dt", {}, "处理时限"), h("dd", {}, time(item.dueTime)),
        h("dt", {}, "内容"), h("dd", {}, item.content),
        h("dt", {}, "处理结果"), h("dd", {}, item.resolution || "—"),
      ),
      h("h2", {}, "处理记录"),
      h(
        "ol",
        { class: "timeline" },
        (item.history || []).map((e) =>
          h("li", {}, h("span", { class: "when" }, time(e.createTime)), ` ${label(e.action)} · ${e.actorDisplayName || ""} `, e.text || ""),
        ),
      ),
    ),
    h("div", { class: "actions" }, h("h2", {}, "处理"), actions, status),
  );
}

export const feedbackPage = {
  path: "feedback",
  title: "客户诉求",
  permission: "care.feedback.list",
  render({ args, permitted, caller, refresh }) {
    return args[0] ? detail(args[0], permitted, caller, refresh) : list();
  },
};
