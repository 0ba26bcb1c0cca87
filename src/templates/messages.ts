import { readdirSync, readFileSync } from "node:fs";
import Handlebars from "handlebars";

export type MessageSet = Record<string, string>;
/** locale → section (`common` or a kind) → key → text */
export type Catalog = Map<string, Record<string, MessageSet>>;

export const MESSAGES_DIR = new URL("./messages/", import.meta.url);

export function loadCatalog(dir: URL | string = MESSAGES_DIR): Catalog {
  const catalog: Catalog = new Map();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const locale = file.slice(0, -".json".length);
    const path = new URL(file, dir instanceof URL ? dir : `file://${dir.replace(/\/?$/, "/")}`);
    try {
      catalog.set(locale, JSON.parse(readFileSync(path, "utf8")));
    } catch (error) {
      throw new Error(`message file ${file}: ${(error as Error).message}`);
    }
  }
  if (!catalog.has("en")) throw new Error("message texts: en.json is required (it is every other locale's fallback)");
  return catalog;
}

/** The texts for one kind in one locale: the locale's own, and English for any key it lacks. */
export function messagesFor(catalog: Catalog, locale: string, kind: string): MessageSet {
  const en = catalog.get("en")!;
  const own = catalog.get(locale) ?? {};
  return { ...en.common, ...en[kind], ...own.common, ...own[kind] };
}

export type TextTemplate = (vars: Record<string, unknown>) => string;

const hbs = Handlebars.create();

/** Message texts are compiled unescaped: they are escaped where they land (HTML), or used as they are (text, SMS). */
export function compileText(source: string, where: string): TextTemplate {
  try {
    const template = hbs.compile(source, { noEscape: true, knownHelpersOnly: true, strict: false });
    template({});
    return template;
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
}
