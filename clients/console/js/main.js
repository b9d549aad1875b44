// The console's shell: sign-in gate, the navigation the caller's permissions allow,
// and a hash router (#/page/arg) that renders one page module at a time.

import * as api from "./api.js";
import { describe, h, show } from "./dom.js";
import { PAGES, allowed } from "./pages.js";
import { signInPage } from "./pages/signin.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let caller = null;

api.whenSignedOut(() => {
  caller = null;
  route();
});

function permitted(permission) {
  return allowed(caller, permission);
}

function navigation() {
  const current = location.hash.split("/")[1] || "dashboard";
  return h(
    "ul",
    {},
    PAGES.filter((page) => !page.hidden && permitted(page.permission)).map((page) =>
      h(
        "li",
        {},
        h("a", { href: `#/${page.path}`, "aria-current": page.path === current ? "page" : null }, page.title),
      ),
    ),
  );
}

function header() {
  if (!caller) {
    show(who);
    show(nav);
    return;
  }
  show(
    who,
    h("span", {}, `${caller.displayName || caller.username}（${caller.username}）`),
    h("button", { type: "button", class: "link", onclick: signOut }, "退出"),
  );
  show(nav, navigation());
}

async function signOut() {
  await api.signOut().catch(() => {});
  caller = null;
  history.replaceState(null, "", "#/");
  route();
}

async function signedIn(reply) {
  caller = await api.me();
  // A role that requires a second factor: the session may only enrol until it does.
  const target = reply.secondFactorEnrollmentRequired ? "#/second-factor" : "#/dashboard";
  history.replaceState(null, "", target);
  route();
}

// After a change to the caller's own access (a confirmed second factor lifts the
// enrolment-only session to the role's permissions): read them again, redraw the menu.
async function reloadCaller() {
  caller = await api.me();
  header();
}

async function route() {
  header();
  if (!caller) {
    document.title = "登录 · 掌上电网管理后台";
    show(view, signInPage(signedIn));
    return;
  }
  const [, path = "dashboard", ...args] = location.hash.split("/");
  const page = PAGES.find((p) => p.path === path) || PAGES[0];
  document.title = `${page.title} · 掌上电网管理后台`;
  if (!permitted(page.permission)) {
    show(view, h("section", {}, h("h1", {}, page.title), h("p", { class: "notice error", role: "alert" }, "您没有使用此页面的权限。")));
    return;
  }
  const section = h("section", { "aria-busy": "true" }, h("h1", {}, page.title), h("p", { class: "muted" }, "加载中…"));
  show(view, section);
  try {
    const content = await page.render({ args, permitted, caller, refresh: route, reloadCaller });
    show(section, h("h1", {}, page.title), content);
  } catch (error) {
    show(section, h("h1", {}, page.title), h("p", { class: "notice error", role: "alert" }, describe(error)));
  } finally {
    section.removeAttribute("aria-busy");
  }
}

window.addEventListener("hashchange", route);
route();
