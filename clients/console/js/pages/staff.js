// The users page's forms: a new staff user (the temporary password sealed to the
// edge's key), a staff user's supply offices and roles, a password reset, and a role's
// permissions.

import { call, post, sealField } from "../api.js";
import { action, field, h, show } from "../dom.js";
import { id, label } from "../format.js";

const ADMIN = "palmgrid.account.v1.AccountAdminService.";
const COVERAGES = ["SUPPLY_OFFICE_COVERAGE_NONE", "SUPPLY_OFFICE_COVERAGE_LISTED", "SUPPLY_OFFICE_COVERAGE_ALL"];
const LISTED = "SUPPLY_OFFICE_COVERAGE_LISTED";

const words = (text) => text.split(/[,，\s]+/).filter(Boolean);

/** Coverage and office ids as the create and set routes take them; the offices are
 *  sent only with LISTED (the service requires them exactly then). */
function officeControls(user = {}) {
  const current = user.supplyOfficeCoverage || "SUPPLY_OFFICE_COVERAGE_NONE";
  const coverage = h("select", { name: "supplyOfficeCoverage" }, COVERAGES.map((c) => h("option", { value: c, selected: c === current }, label(c))));
  const offices = h("input", { name: "supplyOffices", value: (user.supplyOffices || []).join(", "), placeholder: "如 QJ-QL" });
  const values = () => {
    const chosen = { supplyOfficeCoverage: coverage.value };
    if (coverage.value === LISTED) chosen.supplyOffices = words(offices.value);
    return chosen;
  };
  return { coverage, offices, values };
}

/** Roles to choose: a tick per role of `roles` (those `held` ticked), or typed names
 *  when the caller cannot list roles; `values()` the role names chosen. */
function roleControls(roles, held = new Set()) {
  if (!roles.length) {
    const typed = h("input", { name: "roles", value: [...held].map(id).join(" "), placeholder: "如 dispatcher" });
    return { control: field("角色（空格分隔）", typed), values: () => words(typed.value).map((r) => `roles/${r}`) };
  }
  const boxes = roles.map((r) => h("input", { type: "checkbox", value: r.name, checked: held.has(r.name) }));
  const ticks = roles.map((r, i) => h("label", { class: "tick" }, boxes[i], ` ${r.title}（${id(r.name)}）`));
  return {
    control: h("fieldset", {}, h("legend", {}, "角色"), ticks),
    values: () => boxes.filter((box) => box.checked).map((box) => box.value),
  };
}

/** What the service answered for a user: roles and supply-office scope. */
export function userFacts(user) {
  const scope = user.supplyOfficeCoverage === LISTED ? (user.supplyOffices || []).join("、") : label(user.supplyOfficeCoverage);
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, "用户名"),
    h("dd", {}, user.username),
    h("dt", {}, "姓名"),
    h("dd", {}, user.displayName || "—"),
    h("dt", {}, "角色"),
    h("dd", {}, (user.roles || []).map(id).join("、") || "—"),
    h("dt", {}, "供电所"),
    h("dd", {}, scope),
  );
}

/** 新建员工: roles to tick from `roles` (or typed when the caller cannot list them). */
export function createStaffForm(roles, shown) {
  const status = h("p", { role: "status", class: "notice" });
  const username = h("input", { name: "username", required: true, autocomplete: "off" });
  const displayName = h("input", { name: "displayName" });
  const password = h("input", { name: "temporaryPassword", type: "password", autocomplete: "new-password" });
  const roleChoice = roleControls(roles);
  const offices = officeControls();
  const submit = action(
    "新建员工",
    status,
    async () => {
      const body = {
        user: { username: username.value.trim(), displayName: displayName.value.trim() },
        roles: roleChoice.values(),
        ...offices.values(),
        temporaryPassword: await sealField(password.value, `${ADMIN}CreateStaffUser`, "temporaryPassword"),
        requestId: crypto.randomUUID(),
      };
      const user = await post("/v1/users:createStaff", body);
      password.value = "";
      show(shown, h("h3", {}, "新建的员工"), userFacts(user));
      return `已新建员工 ${user.username}（首次登录须修改密码）`;
    },
    { kind: "primary" },
  );
  return h(
    "div",
    {},
    h("h2", {}, "新建员工"),
    h(
      "form",
      { class: "grid-form" },
      field("用户名（6–32 个英文字母）", username),
      field("姓名", displayName),
      field("初始密码", password),
      roleChoice.control,
      field("供电所范围", offices.coverage),
      field("供电所编号（逗号分隔）", offices.offices),
      submit,
    ),
    status,
    shown,
  );
}

/** 设置供电所 for one staff user, shown in `panel`; `reloadUsers` shows the list again. */
export function supplyOfficesForm(user, panel, reloadUsers) {
  const status = h("p", { role: "status", class: "notice" });
  const offices = officeControls(user);
  const save = action(
    "保存供电所",
    status,
    async () => {
      const reply = await post(`/v1/${user.name}:setSupplyOffices`, offices.values());
      show(panel, h("h3", {}, "已设置供电所"), userFacts(reply.user));
      await reloadUsers();
    },
    { kind: "primary" },
  );
  return h(
    "div",
    {},
    h("h3", {}, `设置 ${user.username} 的供电所`),
    h("form", { class: "grid-form" }, field("供电所范围", offices.coverage), field("供电所编号（逗号分隔）", offices.offices), save),
    status,
  );
}

/** 角色 of one staff user, shown in `panel`: a tick per role the caller can list (or
 *  typed names when it cannot); saving grants what was ticked and revokes what was
 *  cleared, one call each, and shows the user as the last answer left it. */
export function rolesForm(user, roles, panel, reloadUsers) {
  const status = h("p", { role: "status", class: "notice" });
  const held = new Set(user.roles || []);
  const controls = roleControls(roles, held);
  const save = action(
    "保存角色",
    status,
    async () => {
      const chosen = new Set(controls.values());
      const grants = [...chosen].filter((r) => !held.has(r));
      const revokes = [...held].filter((r) => !chosen.has(r));
      if (!grants.length && !revokes.length) return "角色未变。";
      let latest = user;
      for (const role of grants) latest = (await post(`/v1/${user.name}:grantRole`, { role })).user;
      for (const role of revokes) latest = (await post(`/v1/${user.name}:revokeRole`, { role })).user;
      show(panel, h("h3", {}, "已保存角色"), userFacts(latest));
      await reloadUsers();
    },
    { kind: "primary" },
  );
  return h(
    "div",
    {},
    h("h3", {}, `设置 ${user.username} 的角色`),
    h("form", { class: "grid-form" }, controls.control, save),
    status,
  );
}

/** 重置密码: a temporary password, sealed for the edge before it leaves the browser;
 *  the user must change it at the next login, and their sessions end. */
export function resetPasswordForm(user, panel) {
  const status = h("p", { role: "status", class: "notice" });
  const password = h("input", { name: "temporaryPassword", type: "password", autocomplete: "new-password", required: true });
  const save = action(
    "确认重置",
    status,
    async () => {
      const temporaryPassword = await sealField(password.value, `${ADMIN}ResetPassword`, "temporaryPassword");
      const reply = await post(`/v1/${user.name}:resetPassword`, { temporaryPassword });
      password.value = "";
      // The form (and its status line) gives way to the answer, which says what was done.
      const done = `已重置 ${user.username} 的密码（下次登录须修改），结束会话 ${reply.endedSessionCount || 0} 个`;
      show(panel, h("h3", {}, "已重置密码"), h("p", { class: "notice" }, done), userFacts(reply.user));
      return done;
    },
    { kind: "primary" },
  );
  return h(
    "div",
    {},
    h("h3", {}, `重置 ${user.username} 的密码`),
    h("form", { class: "grid-form" }, field("临时密码", password), save),
    status,
  );
}

/** A role's permissions, one a line, replaced as a whole (update mask, etag read);
 *  the etag of the answer is kept for the next change. */
export function permissionsEditor(role) {
  const status = h("p", { role: "status", class: "notice" });
  const text = h("textarea", { rows: 8, "aria-label": `${id(role.name)} 的权限（每行一个）` });
  text.value = (role.permissions || []).join("\n");
  let etag = role.etag;
  const save = action("保存权限", status, async () => {
    const saved = await call("PATCH", `/v1/${role.name}`, {
      body: { name: role.name, permissions: words(text.value), etag },
      params: { updateMask: "permissions" },
    });
    etag = saved.etag;
    text.value = (saved.permissions || []).join("\n");
    return `已保存，共 ${(saved.permissions || []).length} 项权限`;
  });
  return h("details", {}, h("summary", {}, "编辑"), text, save, status);
}
