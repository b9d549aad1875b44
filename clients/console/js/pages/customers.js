// A customer (户号) in the caller's scope: archive, balance, bills, the last 24
// months of usage as a chart, payments.

import { get } from "../api.js";
import { field, h, show, svg, table } from "../dom.js";
import { kwh, label, time, yuan } from "../format.js";
import { pagedList } from "../list.js";

const GET = "palmgrid.billing.v1.BillingService.GetCustomer";

/** Bars of monthly energy, oldest on the left; each bar's title gives the figures. */
function usageChart(months) {
  const ordered = [...months].reverse();
  const most = Math.max(1, ...ordered.map((m) => Number(m.energyWh || 0)));
  const width = 24;
  const height = 160;
  return svg(
    "svg",
    { viewBox: `0 0 ${ordered.length * width} ${height + 30}`, class: "chart", role: "img", "aria-label": "近 24 个月用电量" },
    ordered.map((m, i) => {
      const bar = Math.round((Number(m.energyWh || 0) / most) * height);
      return svg(
        "g",
        {},
        svg("rect", { x: i * width + 3, y: height - bar, width: width - 6, height: bar, class: "bar" }, svg("title", {}, `${m.month}：${kwh(m.energyWh)}，${yuan(m.chargeFen)}`)),
        i % 3 === 0 ? svg("text", { x: i * width + 2, y: height + 16, class: "axis" }, m.month.slice(2)) : null,
      );
    }),
  );
}

async function customer(number) {
  const base = `/v1/customers/${number}`;
  const [archive, balance, usage] = await Promise.all([
    get(base, undefined, GET),
    get(`${base}/balance`),
    get(`${base}/monthlyUsage`, { pageSize: 24 }),
  ]);
  const bills = pagedList(
    [
      ["账期", (b) => b.month],
      ["电量", (b) => kwh(b.energyWh)],
      ["电费", (b) => yuan(b.amountFen)],
      ["未缴", (b) => yuan(b.outstandingFen)],
      ["状态", (b) => b.state.replace("BILL_STATE_", "")],
    ],
    async (pageToken) => {
      const reply = await get(`${base}/bills`, { pageSize: 12, pageToken });
      return { rows: reply.bills || [], next: reply.nextPageToken };
    },
  );
  const payments = pagedList(
    [
      ["时间", (p) => time(p.createTime)],
      ["金额", (p) => yuan(p.amountFen)],
      ["渠道", (p) => p.channel.replace("PAYMENT_CHANNEL_", "")],
      ["状态", (p) => p.state.replace("PAYMENT_STATE_", "")],
    ],
    async (pageToken) => {
      const reply = await get(`${base}/payments`, { pageSize: 10, pageToken });
      return { rows: reply.payments || [], next: reply.nextPageToken };
    },
  );
  await Promise.all([bills.ready, payments.ready]);
  return h(
    "div",
    {},
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "户号"), h("dd", {}, number),
      h("dt", {}, "户名"), h("dd", {}, archive.holderName || "—"),
      h("dt", {}, "地址"), h("dd", {}, archive.address || "—"),
      h("dt", {}, "台区"), h("dd", {}, archive.areaCode || "—"),
      h("dt", {}, "余额"), h("dd", {}, yuan(balance.balanceFen)),
      h("dt", {}, "欠费"), h("dd", {}, yuan(balance.arrearsFen)),
    ),
    h("h2", {}, "近 24 个月用电"),
    usageChart(usage.monthlyUsage || []),
    h("h2", {}, "账单"),
    bills,
    h("h2", {}, "缴费记录"),
    payments,
  );
}

export const customersPage = {
  path: "customers",
  title: "客户档案",
  permission: "billing.customers.get",
  async render({ args }) {
    const number = h("input", { name: "customer", inputmode: "numeric", pattern: "[0-9]{10}", value: args[0] || "" });
    const form = h("form", { class: "inline" }, field("户号", number), h("button", { type: "submit", class: "primary" }, "查询"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = `#/customers/${number.value.trim()}`;
    });
    const result = h("div", {});
    if (args[0]) show(result, await customer(args[0]));
    return h("div", {}, form, result);
  },
};
