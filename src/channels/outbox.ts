import { randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { classifyOther, type EmailProvider, type Receipt, type SmsProvider } from "./provider.js";
import type { DkimOptions } from "../config/dkim.js";
import { buildEml } from "./eml.js";

/** Written aside and renamed, so a reader of the outbox never sees half a file. */
async function writeAtomically(dir: string, name: string, content: string | Buffer): Promise<void> {
  await mkdir(dir, { recursive: true });
  const draft = join(dir, `.${name}.partial`);
  await writeFile(draft, content, { mode: 0o600 });
  await rename(draft, join(dir, name));
}

function fileStem(): string {
  return `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}`;
}

/** Dev delivery: each mail as a complete RFC 5322 `.eml` file, so Herald runs with nothing but Redis. */
export function createOutboxEmailProvider(opts: { dir: string; from: string; dkim?: DkimOptions }): EmailProvider {
  return {
    provider: "outbox",
    async send(message): Promise<Receipt> {
      const { raw, messageId } = await buildEml(message, opts.from, { dkim: opts.dkim });
      await writeAtomically(opts.dir, `${fileStem()}.eml`, raw);
      return { provider: "outbox", messageId, acceptedAt: new Date().toISOString() };
    },
    // A full disk or a missing folder is fixed by ops; the message waits.
    classify: (error) => classifyOther(error, "outbox-error"),
    async close() {},
  };
}

export function createOutboxSmsProvider(opts: { dir: string }): SmsProvider {
  return {
    provider: "outbox",
    async send(message): Promise<Receipt> {
      const stem = fileStem();
      const acceptedAt = new Date().toISOString();
      await writeAtomically(opts.dir, `${stem}.sms.json`, JSON.stringify({ to: message.to, body: message.body, acceptedAt }, null, 2) + "\n");
      return { provider: "outbox", messageId: stem, acceptedAt };
    },
    // A full disk or a missing folder is fixed by ops; the message waits.
    classify: (error) => classifyOther(error, "outbox-error"),
    async close() {},
  };
}
