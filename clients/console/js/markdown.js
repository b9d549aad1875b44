// A small Markdown preview, built as elements (never HTML strings): headings, lists,
// quotes, paragraphs, **bold**, *emphasis*, `code` and [links](https://…). Enough to
// see how an article reads before publishing; the apps render the same text.

import { h } from "./dom.js";

const INLINE = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/g;

function inline(text) {
  return text.split(INLINE).map((part) => {
    if (/^\*\*.+\*\*$/.test(part)) return h("strong", {}, part.slice(2, -2));
    if (/^\*.+\*$/.test(part)) return h("em", {}, part.slice(1, -1));
    if (/^`.+`$/.test(part)) return h("code", {}, part.slice(1, -1));
    const link = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(part);
    if (link) {
      return /^https?:\/\//.test(link[2]) ? h("a", { href: link[2], rel: "noopener noreferrer" }, link[1]) : link[1];
    }
    return part;
  });
}

export function renderMarkdown(source) {
  const blocks = [];
  let list = null;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) blocks.push(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
  };
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const item = /^([-*]|\d+\.)\s+(.*)$/.exec(line);
    if (!item) list = null;
    if (!line) {
      flush();
    } else if (heading) {
      flush();
      blocks.push(h(`h${heading[1].length + 1}`, {}, inline(heading[2])));
    } else if (item) {
      flush();
      const ordered = /\d/.test(item[1][0]);
      if (!list || list.ordered !== ordered) {
        list = { ordered, element: h(ordered ? "ol" : "ul", {}) };
        blocks.push(list.element);
      }
      list.element.append(h("li", {}, inline(item[2])));
    } else if (line.startsWith(">")) {
      flush();
      blocks.push(h("blockquote", {}, inline(line.replace(/^>\s?/, ""))));
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return blocks;
}
