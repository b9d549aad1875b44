// A list that pages with the API's page tokens: "下一页" follows `nextPageToken`,
// "上一页" goes back through the tokens already seen.

import { describe, h, show, table } from "./dom.js";

/** `load(pageToken)` answers {rows, next}; `columns` as for `table`. */
export function pagedList(columns, load, empty) {
  const body = h("div", { class: "list" });
  const status = h("p", { class: "muted", role: "status" });
  const previous = h("button", { type: "button" }, "上一页");
  const next = h("button", { type: "button" }, "下一页");
  const tokens = [""];
  let at = 0;
  let nextToken = "";

  async function open(index) {
    status.textContent = "加载中…";
    try {
      const { rows, next: token } = await load(tokens[index]);
      at = index;
      nextToken = token || "";
      show(body, table(columns, rows, empty));
      status.textContent = `第 ${at + 1} 页`;
    } catch (error) {
      status.textContent = describe(error);
    }
    previous.disabled = at === 0;
    next.disabled = !nextToken;
  }

  previous.addEventListener("click", () => open(at - 1));
  next.addEventListener("click", () => {
    tokens[at + 1] = nextToken;
    open(at + 1);
  });
  const element = h("div", {}, body, h("div", { class: "pager" }, previous, next, status));
  element.ready = open(0);
  element.reload = () => open(at);
  return element;
}
