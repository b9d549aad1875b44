// Users, roles and sessions: staff and app users in the caller's scope, with disable,
// enable, unlock, password and second-factor reset, roles and supply offices; new
// staff users; a user's sessions with revoke; the roles and their permissions, editable.

import { get, post } from "../api.js";
import { action, h, show, table } from "../dom.js";
import { pagedList } from "../list.js";
import { id, label, time } from "../format.js";
import { createStaffForm, permissionsEditor, resetPasswordForm, rolesForm, supplyOfficesForm } from "./staff.js";

function userActions(user, permitted, status, refresh, { panel, reloadUsers, roles }) {
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
  if (permitted("account.users.resetPassword")) {
    buttons.push(action("重置密码", status, async () => (show(panel, resetPasswordForm(user, panel)), "请在列表下方输入临时密码。")));
  }
  if (user.kind === "PRINCIPAL_KIND_STAFF" && permitted("account.users.grantRole") && permitted("account.users.revokeRole")) {
    buttons.push(action("设置角色", status, async () => (show(panel, rolesForm(user, roles(), panel, reloadUsers)), "请在列表下方设置。")));
  }
  if (user.kind === "PRINCIPAL_KIND_STAFF" && permitted("account.users.setSupplyOffices")) {
    buttons.push(action("设置供电所", status, async () => (show(panel, supplyOfficesForm(user, panel, reloadUsers)), "请在列表下方设置。")));
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

function userList(usernamePrefix, permitted, status, refresh, forms) {
  return pagedList(
    [
      ["用户名", (u) => u.username],
      ["姓名", (u) => u.displayName],
      ["类型", (u) => (u.kind === "PRINCIPAL_KIND_STAFF" ? "员工" : "客户")],
      ["角色", (u) => (u.roles || []).map(id).join("、") || "—"],
      ["供电所", (u) => (u.supplyOffices || []).join("、") || label(u.supplyOfficeCoverage)],
      ["状态", (u) => label(u.state)],
      ["最近登录", (u) => time(u.lastLoginTime)],
      ["操作", (u) => userActions(u, permitted, status, refresh, forms)],
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
  const panel = h("div", {});
  const search = h("form", { class: "inline" }, prefix, h("button", { type: "submit" }, "查找"));
  const roleList = permitted("account.roles.list") ? (await get("/v1/roles", { pageSize: 100 })).roles || [] : [];
  const list = async (text) => {
    const users = userList(text, permitted, status, refresh, { panel, reloadUsers: () => list(text), roles: () => roleList });
    await users.ready;
    show(found, users);
  };
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    list(prefix.value.trim());
  });
  await list("");
  const roles = h("div", {});
  if (roleList.length) {
    const canEdit = permitted("account.roles.update");
    show(
      roles,
      h("h2", {}, "角色"),
      table(
        [
          ["角色", (r) => `${r.title}（${id(r.name)}）`],
          ["权限数", (r) => (r.permissions || []).length],
          ["权限", (r) => h("details", {}, h("summary", {}, "展开"), h("p", { class: "perms" }, (r.permissions || []).join(" ")))],
          canEdit && ["修改权限", (r) => permissionsEditor(r)],
        ].filter(Boolean),
        roleList,
      ),
    );
  }
  const create = permitted("account.users.create") ? createStaffForm(roleList, h("div", {})) : "";
  return h("div", {}, h("h2", {}, "用户"), search, status, found, panel, create, roles);
}

export const usersPage = {
  path: "users",
  title: "用户与角色",
  permission: "account.users.list",
  render({ args, permitted, refresh }) {
    return args[0] ? sessions(args[0], permitted, refresh) : overview(permitted, refresh);
  },
};
