// Sign-in: username, password, the captcha, and the second factor's code for staff
// who have one. The password and code are sealed to the edge's key before they leave.

import * as api from "../api.js";
import { describe, field, h, notice } from "../dom.js";

const REASONS = {
  INVALID_CREDENTIALS: "用户名或密码错误。",
  ACCOUNT_LOCKED: "尝试次数过多，账户已暂时锁定，请稍后再试。",
  CAPTCHA_INVALID: "验证码错误或已过期，请重新输入。",
  SECOND_FACTOR_REQUIRED: "此账户已启用二次验证，请输入身份验证器中的 6 位动态码。",
  SECOND_FACTOR_INVALID: "动态码错误或已使用，请输入新的动态码。",
};

export function signInPage(onSignedIn) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const image = h("img", { class: "captcha", alt: "验证码图片", width: 120, height: 40 });
  const answer = h("input", { name: "captcha", autocomplete: "off", required: true, "aria-describedby": "captcha-help" });
  const code = h("input", {
    name: "code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}|[a-z0-9]{5}-[a-z0-9]{5}",
    "aria-describedby": "code-help",
  });
  const status = h("p", { role: "status", class: "notice" });
  const submit = h("button", { type: "submit", class: "primary" }, "登录");
  let captcha = "";

  async function refresh() {
    answer.value = "";
    try {
      const reply = await api.newCaptcha();
      captcha = reply.name;
      image.src = `data:image/png;base64,${reply.imagePng}`;
    } catch (error) {
      notice(status, `无法获取验证码：${describe(error)}`, "error");
    }
  }

  const form = h(
    "form",
    { class: "signin", novalidate: true },
    h("h1", {}, "掌上电网管理后台"),
    field("用户名", username),
    field("密码", password),
    h(
      "div",
      { class: "field" },
      h("label", { for: "captcha-answer" }, "验证码"),
      h("div", { class: "captcha-row" }, answer, image, h("button", { type: "button", class: "link", onclick: refresh }, "换一张")),
      h("small", { id: "captcha-help", class: "muted" }, "请输入图片中的字符。"),
    ),
    field("动态码", code),
    h("small", { id: "code-help", class: "muted" }, "已启用二次验证的账户填写身份验证器中的 6 位数字，或一个恢复码。"),
    submit,
    status,
  );
  answer.id = "captcha-answer";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    notice(status, "正在登录…", "busy");
    try {
      const reply = await api.signIn({
        username: username.value.trim(),
        password: password.value,
        captcha,
        captchaAnswer: answer.value.trim(),
        code: code.value.trim(),
      });
      password.value = "";
      await onSignedIn(reply);
    } catch (error) {
      notice(status, REASONS[error.reason] || describe(error), "error");
      code.value = "";
      await refresh();
    } finally {
      submit.disabled = false;
    }
  });
  refresh();
  return h("div", { class: "signin-wrap" }, form);
}
