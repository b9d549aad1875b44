// Articles: every state for editors (search), writing in Markdown with a preview,
// publishing and withdrawing.

import { call, get, post } from "../api.js";
import { action, field, h, show } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";
import { renderMarkdown } from "../markdown.js";

// Drafts are not readable one by one (GetArticle answers published articles only), so
// the editor opens what the search list, or the last change, returned.
const seen = new Map();
const keep = (article) => (seen.set(id(article.name), article), article);

const KINDS = ["ARTICLE_KIND_NOTICE", "ARTICLE_KIND_NEWS", "ARTICLE_KIND_GUIDE"];

function editor(article, permitted, refresh) {
  const title = h("input", { name: "title", value: article.title || "", maxlength: 100, required: true });
  const kind = h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k, selected: k === article.kind }, label(k))));
  const summary = h("input", { name: "summary", value: article.summary || "" });
  const body = h("textarea", { name: "body", rows: 12 });
  body.value = article.body || "";
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  const update = () => show(preview, renderMarkdown(body.value));
  body.addEventListener("input", update);
  update();
  const status = h("p", { role: "status", class: "notice" });
  const values = () => ({ title: title.value, kind: kind.value, summary: summary.value, body: body.value });
  const buttons = [];
  if (!article.name && permitted("care.articles.create")) {
    buttons.push(
      action("保存草稿", status, async () => {
        const created = keep(
          await call("POST", "/v1/articles", { body: values(), params: { requestId: crypto.randomUUID() } }),
        );
        history.replaceState(null, "", `#/articles/${id(created.name)}`);
        refresh();
      }),
    );
  }
  if (article.name && permitted("care.articles.update")) {
    buttons.push(
      action("保存修改", status, async () => {
        keep(await call("PATCH", `/v1/${article.name}`, {
          body: { ...values(), etag: article.etag },
          params: { updateMask: "title,kind,summary,body" },
        }));
        refresh();
      }),
    );
  }
  if (article.name && article.state !== "ARTICLE_STATE_PUBLISHED" && permitted("care.articles.publish")) {
    buttons.push(
      action("发布", status, async () => {
        keep(await post(`/v1/${article.name}:publish`, { etag: article.etag }));
        refresh();
      }, { kind: "primary" }),
    );
  }
  if (article.state === "ARTICLE_STATE_PUBLISHED" && permitted("care.articles.withdraw")) {
    const reason = h("input", { name: "withdraw-reason" });
    buttons.push(
      field("撤回原因", reason),
      action("撤回", status, async () => {
        keep(await post(`/v1/${article.name}:withdraw`, { reason: reason.value }));
        refresh();
      }),
    );
  }
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/articles" }, "← 返回列表"), article.name ? `　状态：${label(article.state)}` : ""),
    h(
      "div",
      { class: "columns" },
      h("form", { class: "article-form" }, field("标题", title), field("栏目", kind), field("摘要", summary), field("正文（Markdown）", body)),
      h("div", {}, h("h2", {}, "预览"), preview),
    ),
    h("div", { class: "buttons" }, buttons),
    status,
  );
}

async function list(permitted) {
  const columns = [
    ["标题", (a) => h("a", { href: `#/articles/${id(a.name)}` }, a.title)],
    ["栏目", (a) => label(a.kind)],
    ["状态", (a) => label(a.state)],
    ["发布时间", (a) => time(a.publishTime)],
    ["更新时间", (a) => time(a.updateTime)],
  ];
  const view = pagedList(columns, async (pageToken) => {
    const reply = await get("/v1/articles:search", { pageSize: 20, pageToken, view: "ARTICLE_VIEW_FULL" });
    return { rows: (reply.articles || []).map(keep), next: reply.nextPageToken };
  });
  await view.ready;
  const create = permitted("care.articles.create") ? h("p", {}, h("a", { href: "#/articles/new", class: "button" }, "写新文章")) : null;
  return h("div", {}, create, view);
}

export const articlesPage = {
  path: "articles",
  title: "公告资讯",
  permission: "care.articles.search",
  async render({ args, permitted, refresh }) {
    if (!args[0]) return list(permitted);
    if (args[0] === "new") return editor({}, permitted, refresh);
    const article = seen.get(args[0]) || keep(await get(`/v1/articles/${args[0]}`));
    return editor(article, permitted, refresh);
  },
};
