// Second factor: enrol a TOTP authenticator (the QR code of the otpauth link, drawn
// here from the vendored `uqr` encoder), confirm with a first code, keep the recovery
// codes shown once.

import * as api from "../api.js";
import { describe, field, h, notice, show, svg } from "../dom.js";
import { encode } from "../../vendor/uqr.mjs";

/** An SVG QR code of `text`, one square per dark module. */
export function qrCode(text, label) {
  const { size, data } = encode(text, { ecc: "M", border: 2 });
  const squares = [];
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) squares.push(svg("rect", { x, y, width: 1, height: 1 }));
    }),
  );
  return svg(
    "svg",
    { viewBox: `0 0 ${size} ${size}`, width: 200, height: 200, role: "img", "aria-label": label, class: "qr" },
    svg("rect", { x: 0, y: 0, width: size, height: size, fill: "#fff" }),
    svg("g", { fill: "#000" }, squares),
  );
}

export const secondFactorPage = {
  path: "second-factor",
  title: "二次验证",
  permission: "account.secondFactors.enroll",
  async render({ reloadCaller }) {
    const area = h("div", {});
    const status = h("p", { role: "status", class: "notice" });
    const start = h("button", { type: "button", class: "primary" }, "开始绑定身份验证器");
    start.addEventListener("click", async () => {
      try {
        const enrolment = await api.enrollSecondFactor();
        const code = h("input", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" });
        const confirm = h("button", { type: "submit", class: "primary" }, "确认");
        const form = h("form", {}, field("身份验证器显示的 6 位动态码", code), confirm);
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          try {
            const reply = await api.confirmSecondFactor(code.value.trim());
            show(
              area,
              h("p", {}, "二次验证已启用。以下恢复码只显示这一次，每个只能使用一次，请妥善保存："),
              h("ol", { class: "recovery" }, reply.recoveryCodes.map((c) => h("li", {}, h("code", {}, c)))),
            );
            notice(status, "已启用。", "ok");
            await reloadCaller();
          } catch (error) {
            notice(status, describe(error), "error");
          }
        });
        show(
          area,
          h("p", {}, "用身份验证器（如 Google Authenticator、Microsoft Authenticator）扫描二维码，或手动输入密钥："),
          qrCode(enrolment.provisioningUri, "身份验证器二维码"),
          h("p", {}, "密钥：", h("code", { class: "secret" }, enrolment.secret)),
          form,
        );
      } catch (error) {
        notice(status, describe(error), "error");
      }
    });
    show(area, h("p", {}, "登录时除密码外还需输入身份验证器中的动态码。"), start);
    return h("div", {}, area, status);
  },
};
