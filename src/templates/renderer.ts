import type { AnyJob, KindName } from "../contracts/index.js";
import { type Branding, compileTemplates } from "./compile.js";
import type { Catalog } from "./messages.js";
import { renderWith } from "./render.js";

export { type Branding, DEFAULT_BRANDING, TemplateError } from "./compile.js";
export { oneLine } from "./render.js";

export interface RenderInput {
  kind: KindName;
  job: AnyJob;
  /** The finished link (url, or urlTemplate filled in); absent for SMS. */
  link?: string;
  now?: number;
}

export interface RenderedEmail {
  locale: string;
  subject: string;
  html: string;
  text: string;
  /** The tenant's sender, when its settings name one. */
  from?: string;
}

export interface RenderedSms {
  locale: string;
  body: string;
}

export interface Renderer {
  readonly locales: readonly string[];
  /** Things worth one log line at start-up (e.g. texts that fall back to English). */
  readonly warnings: readonly string[];
  /** The tenants in the tenants file (none without one). */
  readonly tenantIds: readonly string[];
  email(input: RenderInput): RenderedEmail;
  sms(input: RenderInput): RenderedSms;
}

export interface RendererOptions {
  branding?: Partial<Branding>;
  catalog?: Catalog;
  /** YAML file with per-tenant branding, sender, default locale and texts. */
  tenantsFile?: string;
  /** Folder with `layout.mjml` and/or `<kind>.mjml` replacing the built-in ones. */
  templatesDir?: string;
  /**
   * Told about every job that names a tenant the tenants file does not have (a typo, or a tenant not yet
   * added): it is rendered with the defaults and the job's own branding, so the mistake must be said.
   */
  onUnknownTenant?: (tenantId: string, kind: KindName) => void;
}

/** Compiles the layout, every kind's body and every locale's texts once; rendering a job then only fills in values. */
export async function createRenderer(opts: RendererOptions = {}): Promise<Renderer> {
  return renderWith(await compileTemplates(opts), opts);
}
