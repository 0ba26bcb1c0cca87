import { decodeEntities } from "../support/html.js";

/**
 * Everything in an HTML mail that makes a mail client fetch something when the mail is opened: images, style
 * sheets, fonts, scripts, frames, media, CSS url()/@import, meta refresh. Links a person clicks (<a href>) are
 * not fetched and not listed. Conditional comments (Outlook) are scanned like the rest.
 */
export function remoteResources(html: string): string[] {
  const found: string[] = [];
  const add = (what: string, value: string) => found.push(`${what} ${decodeEntities(value).trim()}`);
  for (const tag of html.matchAll(/<([a-z][\w:-]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/gi)) {
    const name = tag[1]!.toLowerCase();
    const attributes = tag[2]!;
    if (name === "script") add("<script>", /\bsrc\s*=\s*["']?([^"'\s>]+)/i.exec(attributes)?.[1] ?? "(inline)");
    for (const attr of attributes.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
      const key = attr[1]!.toLowerCase();
      const value = attr[2] ?? attr[3] ?? attr[4] ?? "";
      if (["src", "background", "poster", "data", "lowsrc", "dynsrc", "xlink:href"].includes(key)) add(`<${name} ${key}>`, value);
      else if (key === "srcset") for (const candidate of decodeEntities(value).split(",")) add(`<${name} srcset>`, candidate.trim().split(/\s+/)[0]!);
      else if (key === "href" && name !== "a" && name !== "area") add(`<${name} href>`, value);
      else if (key === "content" && name === "meta" && /url\s*=/i.test(value)) add("<meta refresh>", value.replace(/^.*url\s*=\s*/i, ""));
    }
  }
  // CSS anywhere: <style> blocks and style attributes.
  for (const m of html.matchAll(/url\(\s*(?:&quot;|["'])?\s*([^"')&]+?)\s*(?:&quot;|["'])?\s*\)/gi)) add("css url()", m[1]!);
  for (const m of html.matchAll(/@import\s+(?!url\()(?:&quot;|["'])([^"'&]+)/gi)) add("css @import", m[1]!);
  return [...new Set(found)];
}

/** The URL part of each `remoteResources` entry. */
export function resourceUrl(entry: string): string {
  return entry.slice(entry.lastIndexOf(" ") + 1);
}

export interface RawMessage {
  /** Unfolded header fields in order, names as written. */
  headers: { name: string; value: string }[];
  headerBlock: string;
  body: string;
}

/** Splits RFC 5322 bytes into header fields (unfolded) and body. */
export function splitMessage(raw: Buffer | string): RawMessage {
  const text = Buffer.isBuffer(raw) ? raw.toString("latin1") : raw;
  const end = text.indexOf("\r\n\r\n");
  const headerBlock = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? "" : text.slice(end + 4);
  const headers = headerBlock
    .replace(/\r\n(?=[ \t])/g, "")
    .split("\r\n")
    .filter(Boolean)
    .map((line) => {
      const colon = line.indexOf(":");
      return { name: line.slice(0, colon), value: line.slice(colon + 1).trim() };
    });
  return { headers, headerBlock, body };
}

export function headerValues(message: RawMessage, name: string): string[] {
  return message.headers.filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value);
}

/** The MIME parts directly under a multipart body: their own headers and content type. */
export function multipartChildren(message: RawMessage): { contentType: string; headers: RawMessage["headers"] }[] {
  const contentType = headerValues(message, "Content-Type")[0] ?? "";
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [];
  const sections = message.body.split(`--${boundary}`);
  // [preamble, part…, "--" epilogue]
  return sections
    .slice(1)
    .filter((section) => !section.startsWith("--"))
    .map((section) => {
      const part = splitMessage(section.replace(/^\r\n/, ""));
      return { contentType: (headerValues(part, "Content-Type")[0] ?? "text/plain").split(";")[0]!.trim().toLowerCase(), headers: part.headers };
    });
}

/** Lines that break RFC 5322: longer than 998 octets, or ended by a bare CR or LF instead of CRLF. */
export function lineProblems(raw: Buffer): { longest: number; tooLong: number[]; bareLineEnds: number } {
  const text = raw.toString("latin1");
  const bareLineEnds = (text.match(/\r(?!\n)|(?<!\r)\n/g) ?? []).length;
  const lines = text.split("\r\n");
  const tooLong = lines.flatMap((line, i) => (line.length > 998 ? [i + 1] : []));
  return { longest: Math.max(...lines.map((l) => l.length)), tooLong, bareLineEnds };
}
