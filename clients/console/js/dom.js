// Building the page from elements, never from HTML strings: text from the API is
// always text (no markup injection), and nothing needs `innerHTML` under the CSP.

/** h("button", {class: "primary", onclick: f}, "保存") */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag, attributes, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

/** Replace what `element` shows. */
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A table: `columns` are [heading, row => cell]. */
export function table(columns, rows, empty = "暂无数据") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

/** A labelled form field. */
export function field(label, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

/** A status line that says what happened (role=status, read by screen readers). */
export function notice(element, message, kind = "ok") {
  element.className = `notice ${kind}`;
  element.textContent = message;
}

/** What went wrong, for a person: the API's message and the fields it names. */
export function describe(error) {
  const extra = error.fields && error.fields.length ? `（${error.fields.join("；")}）` : "";
  return `${error.message}${extra}`;
}

/** A button that runs `action`, disabled while it runs, reporting into `status`. */
export function action(title, status, work, { kind = "" } = {}) {
  const button = h("button", { type: "button", class: kind }, title);
  button.addEventListener("click", async () => {
    button.disabled = true;
    notice(status, `${title}…`, "busy");
    try {
      const message = await work();
      notice(status, message || `${title}：已完成`, "ok");
    } catch (error) {
      notice(status, describe(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
