import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { domainToASCII } from "node:url";

/**
 * DKIM signing (RFC 6376) for outgoing mail, configured by three variables:
 *
 * - `SMTP_DKIM_DOMAIN`: the signing domain (`d=`), normally the domain of `SMTP_FROM` so the signature aligns for DMARC.
 * - `SMTP_DKIM_SELECTOR`: the selector (`s=`); the public key is published as TXT at `<selector>._domainkey.<domain>`.
 * - `SMTP_DKIM_PRIVATE_KEY`: the RSA private key, either the PEM text itself (anything starting with `-----BEGIN`;
 *   literal `\n` sequences are taken as line breaks, for env files that cannot hold multi-line values) or the path
 *   of a PEM file (read once at start). PKCS#1 (`BEGIN RSA PRIVATE KEY`) and PKCS#8 (`BEGIN PRIVATE KEY`),
 *   unencrypted, at least 1024 bits (2048 recommended).
 *
 * All three unset: no signing. Any of them set: all three are required, and every problem is reported with the
 * variable named. Error messages never contain key material.
 */

export const DKIM_VARIABLES = ["SMTP_DKIM_DOMAIN", "SMTP_DKIM_SELECTOR", "SMTP_DKIM_PRIVATE_KEY"] as const;
export type DkimVariable = (typeof DKIM_VARIABLES)[number];

export interface DkimEnv {
  SMTP_DKIM_DOMAIN?: string;
  SMTP_DKIM_SELECTOR?: string;
  SMTP_DKIM_PRIVATE_KEY?: string;
  /** When given, the signing domain is checked to align with the sender's domain. */
  SMTP_FROM?: string;
}

/** What nodemailer's `dkim` option takes (single key). */
export interface DkimOptions {
  /** Signing domain, lower case, IDNs in their ASCII (punycode) form. */
  domainName: string;
  keySelector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
}

export interface DkimIssue {
  variable: DkimVariable;
  message: string;
}

export class DkimConfigError extends Error {
  override readonly name = "DkimConfigError";
  constructor(readonly issues: DkimIssue[]) {
    super(`invalid DKIM configuration:\n  ${issues.map((i) => i.message).join("\n  ")}`);
  }
}

export const MIN_DKIM_KEY_BITS = 1024;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function blank(value: string | undefined): value is undefined {
  return value === undefined || value.trim() === "";
}

/** Domain names as DNS holds them: labels of letters, digits and hyphens; Unicode names become punycode. */
function normalizeDomain(value: string): string | undefined {
  const name = value.trim().replace(/\.$/, "");
  // domainToASCII parses a URL host and would quietly cut "acme.com/x" to "acme.com"
  if (!/^[\p{L}\p{M}\p{N}.-]+$/u.test(name)) return undefined;
  const ascii = domainToASCII(name).toLowerCase();
  if (!ascii || ascii.length > 253) return undefined;
  const labels = ascii.split(".");
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) ? ascii : undefined;
}

/** The domain of an address in `Name <local@domain>` or bare `local@domain` form. */
export function addressDomain(from: string): string | undefined {
  const domain = /@([^>\s@]+)>?\s*$/.exec(from.trim())?.[1];
  return domain ? normalizeDomain(domain) : undefined;
}

/**
 * DMARC relaxed alignment wants the same organizational domain. Without the public suffix list this takes the last
 * two labels: it may let `a.co.uk` pass for `b.co.uk`, but never refuses an aligned pair.
 */
function roughlyAligned(a: string, b: string): boolean {
  const org = (d: string) => d.split(".").slice(-2).join(".");
  return org(a) === org(b);
}

function readKeyText(value: string): { pem?: string; issue?: string } {
  const trimmed = value.trim();
  if (trimmed.startsWith("-----BEGIN")) return { pem: trimmed.replace(/\\r/g, "").replace(/\\n/g, "\n") };
  if (trimmed.includes("\n")) return { issue: "SMTP_DKIM_PRIVATE_KEY must be a PEM key (starting with -----BEGIN) or the path of a PEM file" };
  const path = resolve(trimmed);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    return { issue: `SMTP_DKIM_PRIVATE_KEY is neither a PEM key (starting with -----BEGIN) nor a readable file: ${path} (${code})` };
  }
  if (!text.includes("-----BEGIN")) return { issue: `SMTP_DKIM_PRIVATE_KEY file ${path} holds no PEM key (no -----BEGIN line)` };
  return { pem: text };
}

function parseKey(pem: string): { key?: KeyObject; issue?: string } {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    return { issue: "SMTP_DKIM_PRIVATE_KEY is encrypted; give the key without a passphrase (keep the file or secret itself protected)" };
  }
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(pem) && !/PRIVATE KEY-----/.test(pem)) {
    return { issue: "SMTP_DKIM_PRIVATE_KEY holds a public key or certificate; it needs the private key" };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    return { issue: 'SMTP_DKIM_PRIVATE_KEY is not a valid PEM private key (PKCS#1 "BEGIN RSA PRIVATE KEY" or PKCS#8 "BEGIN PRIVATE KEY")' };
  }
  if (key.asymmetricKeyType !== "rsa") {
    return { issue: `SMTP_DKIM_PRIVATE_KEY is a ${key.asymmetricKeyType ?? "non-RSA"} key; DKIM signing here uses rsa-sha256 and needs an RSA key` };
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_DKIM_KEY_BITS) {
    return { issue: `SMTP_DKIM_PRIVATE_KEY is a ${bits}-bit RSA key; DKIM needs at least ${MIN_DKIM_KEY_BITS} bits (RFC 8301), 2048 recommended` };
  }
  try {
    // nodemailer drops the signature silently when signing fails; a key that cannot sign must stop start-up instead.
    cryptoSign("sha256", Buffer.from("herald dkim self-test"), key);
  } catch {
    return { issue: "SMTP_DKIM_PRIVATE_KEY cannot sign with rsa-sha256" };
  }
  return { key };
}

/** Validates the DKIM variables: the options to sign with (undefined when DKIM is off) and every problem found. */
export function checkDkim(env: DkimEnv): { dkim?: DkimOptions; issues: DkimIssue[] } {
  const issues: DkimIssue[] = [];
  const domainSet = !blank(env.SMTP_DKIM_DOMAIN);
  const selectorSet = !blank(env.SMTP_DKIM_SELECTOR);
  const keySet = !blank(env.SMTP_DKIM_PRIVATE_KEY);
  if (!domainSet && !selectorSet && !keySet) return { issues };

  if (!domainSet) {
    const set = [selectorSet && "SMTP_DKIM_SELECTOR", keySet && "SMTP_DKIM_PRIVATE_KEY"].filter(Boolean).join(" and ");
    issues.push({ variable: "SMTP_DKIM_DOMAIN", message: `SMTP_DKIM_DOMAIN is required when ${set} is set (it names the signing domain, d=)` });
  }
  if (!selectorSet) {
    issues.push({
      variable: "SMTP_DKIM_SELECTOR",
      message: "SMTP_DKIM_SELECTOR is required for DKIM signing (the s= selector; the key is published at <selector>._domainkey.<domain>)",
    });
  }
  if (!keySet) {
    issues.push({ variable: "SMTP_DKIM_PRIVATE_KEY", message: "SMTP_DKIM_PRIVATE_KEY is required for DKIM signing (PEM text or the path of a PEM file)" });
  }

  let domainName: string | undefined;
  if (domainSet) {
    domainName = normalizeDomain(env.SMTP_DKIM_DOMAIN!);
    if (!domainName) {
      issues.push({ variable: "SMTP_DKIM_DOMAIN", message: `SMTP_DKIM_DOMAIN must be a domain name such as acme.com, got "${env.SMTP_DKIM_DOMAIN!.trim()}"` });
    } else if (!blank(env.SMTP_FROM)) {
      const fromDomain = addressDomain(env.SMTP_FROM);
      if (fromDomain && !roughlyAligned(fromDomain, domainName)) {
        issues.push({
          variable: "SMTP_DKIM_DOMAIN",
          message: `SMTP_DKIM_DOMAIN ${domainName} does not match the domain of SMTP_FROM (${fromDomain}); receivers would not align the signature with the sender (DMARC)`,
        });
      }
    }
  }

  let keySelector: string | undefined;
  if (selectorSet) {
    keySelector = env.SMTP_DKIM_SELECTOR!.trim();
    if (keySelector.length > 253 || !keySelector.split(".").every((l) => LABEL.test(l))) {
      issues.push({
        variable: "SMTP_DKIM_SELECTOR",
        message: `SMTP_DKIM_SELECTOR must be one or more DNS labels (letters, digits, hyphens) such as herald2024, got "${keySelector}"`,
      });
      keySelector = undefined;
    }
  }

  let privateKey: string | undefined;
  if (keySet) {
    const { pem, issue } = readKeyText(env.SMTP_DKIM_PRIVATE_KEY!);
    if (issue) issues.push({ variable: "SMTP_DKIM_PRIVATE_KEY", message: issue });
    if (pem) {
      const parsed = parseKey(pem);
      if (parsed.issue) issues.push({ variable: "SMTP_DKIM_PRIVATE_KEY", message: parsed.issue });
      else privateKey = parsed.key!.export({ type: "pkcs8", format: "pem" }) as string;
    }
  }

  if (issues.length > 0 || !domainName || !keySelector || !privateKey) return { issues };
  return { dkim: { domainName, keySelector, privateKey }, issues };
}

/** The problems with the DKIM variables, each naming its variable (for the config schema). */
export function dkimIssues(env: DkimEnv): DkimIssue[] {
  return checkDkim(env).issues;
}

/** The signing options, undefined when DKIM is not configured; throws DkimConfigError naming every bad variable. */
export function dkimFromEnv(env: DkimEnv): DkimOptions | undefined {
  const { dkim, issues } = checkDkim(env);
  if (issues.length > 0) throw new DkimConfigError(issues);
  return dkim;
}

/** The DNS record to publish: `name` (TXT) and its `value`, `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>`. */
export function dkimDnsRecord(dkim: DkimOptions): { name: string; value: string } {
  const spki = createPublicKey(dkim.privateKey).export({ type: "spki", format: "der" });
  return { name: `${dkim.keySelector}._domainkey.${dkim.domainName}`, value: `v=DKIM1; k=rsa; p=${spki.toString("base64")}` };
}
