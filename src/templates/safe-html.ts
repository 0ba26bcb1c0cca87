/**
 * Custom texts (from a tenants file) may use a small HTML subset: p, br, strong, b, em, i, u, and a with an
 * http(s) href. Allowed tags are re-written from what was parsed (no attributes survive but href); anything
 * else, including every other tag, attribute and entity-looking text, is escaped and shows as typed.
 */
const ALLOWED = new Set(["p", "br", "strong", "b", "em", "i", "u", "a"]);
const TAG = /<\/?([a-zA-Z][a-zA-Z0-9]*)\b([^<>]*)>/g;
const HREF = /^\s+href\s*=\s*(?:"([^"]*)"|'([^']*)')\s*\/?\s*$/;

export function escapeHtml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** Returns HTML in which only the allowed subset is markup. Handlebars `{{…}}` expressions pass through untouched. */
export function sanitizeCustomHtml(source: string): string {
  let out = "";
  let last = 0;
  const open: string[] = [];
  for (const match of source.matchAll(TAG)) {
    out += escapeText(source.slice(last, match.index));
    last = match.index! + match[0].length;
    // TAG has two groups that always take part in a match (the attributes one possibly empty).
    const [, tagName = "", attributes = ""] = match;
    const name = tagName.toLowerCase();
    const closing = match[0].startsWith("</");
    if (!ALLOWED.has(name)) {
      out += escapeHtml(match[0]);
      continue;
    }
    if (closing) {
      // Only close what is open, so a stray </p> cannot break out of the layout's markup.
      const at = open.lastIndexOf(name);
      if (at < 0) {
        out += escapeHtml(match[0]);
        continue;
      }
      for (const tag of open.splice(at).reverse()) out += `</${tag}>`;
      continue;
    }
    if (name === "br") {
      out += attributes.trim() === "" || attributes.trim() === "/" ? "<br />" : escapeHtml(match[0]);
      continue;
    }
    if (name === "a") {
      const href = HREF.exec(attributes);
      const url = href ? (href[1] ?? href[2]) : undefined;
      if (!url || !/^https?:\/\/[^\s]+$/i.test(url)) {
        out += escapeHtml(match[0]);
        continue;
      }
      out += `<a href="${escapeHtml(url)}">`;
    } else {
      if (attributes.trim() !== "") {
        out += escapeHtml(match[0]);
        continue;
      }
      out += `<${name}>`;
    }
    open.push(name);
  }
  out += escapeText(source.slice(last));
  for (const tag of open.reverse()) out += `</${tag}>`;
  return out;
}

/** The same text without markup, for the plain-text part, subjects and SMS. */
export function stripCustomHtml(source: string): string {
  return source
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/p>\s*<p>/gi, "\n\n")
    .replace(TAG, (tag, name: string) => (ALLOWED.has(name.toLowerCase()) ? "" : tag));
}

// Escapes text between tags but keeps `{{…}}` intact for Handlebars (which escapes the values it inserts).
function escapeText(text: string): string {
  return text
    .split(/(\{\{[^{}]*\}\})/g)
    .map((part, i) => (i % 2 === 1 ? part : escapeHtml(part)))
    .join("");
}
