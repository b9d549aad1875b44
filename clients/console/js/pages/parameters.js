// System parameters: every value the account service keeps, each changed on its own
// (update mask of one field, with the etag read).

import { call, get } from "../api.js";
import { action, h, table } from "../dom.js";

function editor(name, value, parameters, permitted, status, refresh) {
  if (!permitted("account.systemParameters.update") || typeof value === "object") {
    return h("code", {}, JSON.stringify(value));
  }
  const input =
    typeof value === "boolean"
      ? h("input", { type: "checkbox", checked: value, "aria-label": name })
      : h("input", { value: String(value), "aria-label": name });
  const read = () => (typeof value === "boolean" ? input.checked : typeof value === "number" ? Number(input.value) : input.value);
  return h(
    "div",
    { class: "row-actions" },
    input,
    action("保存", status, async () => {
      await call("PATCH", "/v1/systemParameters", {
        body: { name: "systemParameters", [name]: read(), etag: parameters.etag },
        params: { updateMask: name },
      });
      refresh();
    }),
  );
}

export const parametersPage = {
  path: "parameters",
  title: "系统参数",
  permission: "account.systemParameters.get",
  async render({ permitted, refresh }) {
    const status = h("p", { role: "status", class: "notice" });
    const parameters = await get("/v1/systemParameters");
    const rows = Object.entries(parameters).filter(([k]) => !["name", "etag", "updateTime"].includes(k));
    return h(
      "div",
      {},
      status,
      table(
        [
          ["参数", ([k]) => h("code", {}, k)],
          ["值", ([k, v]) => editor(k, v, parameters, permitted, status, refresh)],
        ],
        rows,
      ),
    );
  },
};
