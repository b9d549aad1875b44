// Users, roles and sessions: staff and app users in the caller's scope, with disable,
// enable, unlock and second-factor reset; a user's sessions with revoke; the roles
// and their permissions.

import { get, post } from "../api.js";
import { action, h, show, table } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";

function userActions(user, permitted, status, refresh) {
  const name = user.name;
  const buttons = [h("a", { href: `#/users/${id(name)}` }, "会话")];
  if (user.state === "USER_STATE_ACTIVE" && permitted("account.users.disable")) {
    buttons.push(action("停用", status, async () => (await post(`/v1/${name}:disable`, { reason: "管理员停用" }), refresh())));
  }
  if (user.state === "USER_STATE_DISABLED" && permitted("account.users.enable")) {
    buttons.push(action("启用", status, async () => (await post(`/v1/${name}:enable`, {}), refresh())));
  }
  if (user.lockExpireTime && permitted("account.users.unlock")) {
    buttons.push(action("解锁", status, async () => (await post(`/v1/${name}:unlock`, {}), refresh())));
  }
  if (user.kind === "PRINCIPAL_KIND_STAFF" && permitted("account.users.resetSecondFactor")) {
    buttons.push(action("重置二次验证", status, async () => (await post(`/v1/${name}:resetSecondFactor`, {}), "已重置。")));
  }
  return h("div", { class: "row-actions" }, buttons);
}

async function sessions(userId, permitted, refresh) {
  const status = h("p", { role: "status", class: "notice" });
  const reply = await get("/v1/sessions", { user: `users/${userId}`, pageSize: 50 });
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/users" }, "← 返回用户列表")),
    h("h2", {}, `用户 ${userId} 的会话`),
    table(
      [
        ["会话", (s) => id(s.name)],
        ["状态", (s) => s.state.replace("SESSION_STATE_", "")],
        ["登录时间", (s) => time(s.createTime)],
        ["最近活动", (s) => time(s.lastActivityTime)],
        ["来源地址", (s) => s.clientIp || "—"],
        [
          "操作",
          (s) =>
            s.state === "SESSION_STATE_ACTIVE" && permitted("account.sessions.revoke")
              ? action("强制下线", status, async () => (await post(`/v1/${s.name}:revoke`, { reason: "管理员强制下线" }), refresh()))
              : "",
        ],
      ],
      reply.sessions || [],
      "没有会话",
    ),
    status,
  );
}

function userList(usernamePrefix, permitted, status, refresh) {
  return pagedList(
    [
      ["用户名", (u) => u.username],
      ["姓名", (u) => u.displayName],
      ["类型", (u) => (u.kind === "PRINCIPAL_KIND_STAFF" ? "员工" : "客户")],
      ["角色", (u) => (u.roles || []).map(id).join("、") || "—"],
      ["状态", (u) => label(u.state)],
      ["最近登录", (u) => time(u.lastLoginTime)],
      ["操作", (u) => userActions(u, permitted, status, refresh)],
    ],
    async (pageToken) => {
      const reply = await get("/v1/users", { pageSize: 20, pageToken, usernamePrefix });
      return { rows: reply.users || [], next: reply.nextPageToken };
    },
  );
}

async function overview(permitted, refresh) {
  const status = h("p", { role: "status", class: "notice" });
  const prefix = h("input", { name: "usernamePrefix", "aria-label": "用户名开头" });
  const found = h("div", {});
  const search = h("form", { class: "inline" }, prefix, h("button", { type: "submit" }, "查找"));
  const list = async (text) => {
    const users = userList(text, permitted, status, refresh);
    await users.ready;
    show(found, users);
  };
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    list(prefix.value.trim());
  });
  await list("");
  const roles = h("div", {});
  if (permitted("account.roles.list")) {
    const reply = await get("/v1/roles", { pageSize: 100 });
    show(
      roles,
      h("h2", {}, "角色"),
      table(
        [
          ["角色", (r) => `${r.title}（${id(r.name)}）`],
          ["权限数", (r) => (r.permissions || []).length],
          ["权限", (r) => h("details", {}, h("summary", {}, "展开"), h("p", { class: "perms" }, (r.permissions || []).join(" ")))],
        ],
        reply.roles || [],
      ),
    );
  }
  return h("div", {}, h("h2", {}, "用户"), search, status, found, roles);
}

export const usersPage = {
  path: "users",
  title: "用户与角色",
  permission: "account.users.list",
  render({ args, permitted, refresh }) {
    return args[0] ? sessions(args[0], permitted, refresh) : overview(permitted, refresh);
  },
};
