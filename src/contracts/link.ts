/** Placeholders a `urlTemplate` may use; each value is URL-encoded when the link is built. */
export const LINK_PLACEHOLDERS = ["code", "codeId", "userId", "tenantId", "loginName"] as const;
export type LinkPlaceholder = (typeof LINK_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(LINK_PLACEHOLDERS);
  return [...template.matchAll(PLACEHOLDER)].flatMap(([, name]) => (name !== undefined && !known.has(name) ? [name] : []));
}

/** True when braces are left over once the well-formed placeholders are taken out (`{{code`, `{code}}`, `{{ }}`). */
export function hasMalformedPlaceholder(template: string): boolean {
  return /\{\{|\}\}/.test(template.replace(PLACEHOLDER, ""));
}

/** Fills a url template; a placeholder without a value becomes empty rather than leaking `{{…}}` into a mail. */
export function fillLinkTemplate(template: string, values: Partial<Record<LinkPlaceholder, string | undefined>>): string {
  return template.replace(PLACEHOLDER, (_, name: LinkPlaceholder) => encodeURIComponent(values[name] ?? ""));
}

interface LinkSource {
  url?: string;
  urlTemplate?: string;
  code?: string;
  codeId?: string;
  recipient: { userId: string; loginName?: string };
  tenant?: { id?: string };
}

/** The link a message carries: `url` as given, or `urlTemplate` filled in; none for code-only messages. */
export function resolveLink(job: LinkSource): string | undefined {
  if (job.url) return job.url;
  if (!job.urlTemplate) return undefined;
  return fillLinkTemplate(job.urlTemplate, {
    code: job.code,
    codeId: job.codeId,
    userId: job.recipient.userId,
    tenantId: job.tenant?.id,
    loginName: job.recipient.loginName,
  });
}
