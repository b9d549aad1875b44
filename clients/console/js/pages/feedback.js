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
  if (permitted("care.feedback.reply")) {
    const text = h("textarea", { rows: 3, name: "reply" });
    actions.push(
      field("答复内容", text),
      action("答复", status, async () => {
        await post(`/v1/${name}:reply`, { text: text.value });
        refresh();
        return "已答复。";
      }),
    );
  }
  if (permitted("care.feedback.resolve")) {
    const resolution = h("textarea", { rows: 2, name: "resolution" });
    actions.push(
      field("处理结果", resolution),
      action("办结", status, async () => {
        await post(`/v1/${name}:resolve`, { resolution: resolution.value });
        refresh();
        return "已办结。";
      }),
    );
  }
  if (permitted("care.feedback.close")) {
    const reason = h("input", { name: "close-reason" });
    actions.push(
      field("关闭原因", reason),
      action("关闭", status, async () => {
        await post(`/v1/${name}:close`, { reason: reason.value });
        refresh();
        return "已关闭。";
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
