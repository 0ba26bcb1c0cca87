import { convert } from "html-to-text";
import mjml2html from "mjml";
import { TemplateError } from "./errors.js";

// Loaded only where MJML must run: `npm run build` (which ships the built-in templates compiled, see
// precompiled.ts), an override folder (HERALD_TEMPLATES_DIR), or a checkout whose compiled copy is stale.
// A worker with the built-in templates never loads MJML or html-to-text (≈1 s and ≈90 MB at start).

export interface Source {
  text: string;
  /** Where it came from, for error messages: a built-in name or an override file path. */
  file: string;
}

/** A kind's mail after MJML: the HTML and the plain-text part, both still with their Handlebars placeholders. */
export interface CompiledSources {
  html: string;
  text: string;
}

export const BODY_MARKER = "<!-- herald:body -->";

// MJML validates colour attributes, so the layout carries these stand-ins, swapped for placeholders after compiling.
const COLOR_STANDINS: Record<string, string> = {
  "#0f0f01": "{{color.primary}}",
  "#0f0f02": "{{color.background}}",
  "#0f0f03": "{{color.font}}",
  "#0f0f04": "{{color.buttonText}}",
};
const STANDIN = /#0f0f0[1-4]/gi;

/** Maps a line of layout-with-body back to the file it came from. */
function locate(line: number, layout: Source, body: Source, bodyAt: number): string {
  const bodyLines = body.text.split("\n").length;
  if (line < bodyAt) return `${layout.file} line ${line}`;
  if (line < bodyAt + bodyLines) return `${body.file} line ${line - bodyAt + 1}`;
  return `${layout.file} line ${line - bodyLines + 1}`;
}

/** Changing what this makes of the same sources? Bump MJML_OUTPUT_FORMAT in precompiled.ts. */
export async function compileMjml(layout: Source, body: Source): Promise<CompiledSources> {
  const at = layout.text.indexOf(BODY_MARKER);
  if (at < 0) throw new TemplateError(`${layout.file}: the layout must contain ${BODY_MARKER} where each kind's body goes`);
  const bodyAt = layout.text.slice(0, at).split("\n").length;
  const source = layout.text.replace(BODY_MARKER, body.text);
  let result: Awaited<ReturnType<typeof mjml2html>>;
  try {
    // No web fonts: MJML would otherwise load Google Fonts in every mail (a tracking request, and a remote resource).
    result = await mjml2html(source, { validationLevel: "strict", keepComments: false, fonts: {} });
  } catch (error) {
    // strict validation throws with every error listed
    const details = (error as { errors?: { line: number; message: string }[] }).errors;
    if (details?.length) throw new TemplateError(details.map((d) => `${locate(d.line, layout, body, bodyAt)}: ${d.message}`).join("; "));
    throw new TemplateError(`${body.file}: ${(error as Error).message}`);
  }
  if (result.errors?.length) {
    throw new TemplateError(result.errors.map((e) => `${locate(e.line, layout, body, bodyAt)}: ${e.message}`).join("; "));
  }
  // MJML writes left-to-right into every section's inline style; make the direction follow the locale.
  const html = result.html
    .replace(STANDIN, (c) => COLOR_STANDINS[c.toLowerCase()] ?? c)
    .replace(/direction:ltr/g, "direction:{{dir}}")
    .replace(/text-align:left/g, "text-align:{{align}}")
    .replace(/align="left"/g, 'align="{{align}}"');
  // The plain-text part is derived from the same compiled mail once, here, so the two parts never drift apart.
  const text = convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      // The preheader is an inbox preview, hidden in the HTML part; the text part starts with the title.
      { selector: "div[style*='display:none']", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
      // The text part spells the link out once, on its own line; the button's copy of it would be noise.
      { selector: "a[target]", format: "anchor", options: { ignoreHref: true } }, // mj-button sets target; the fallback link has none
      { selector: "table", format: "block" },
      { selector: "tr", format: "block" },
      { selector: "td", format: "block" },
    ],
  });
  return { html, text: text.replace(/\n{3,}/g, "\n\n").trim() + "\n" };
}
