import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian's python3-dkim lives in the system interpreter, not in whatever python3 comes first on PATH. */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/**
 * An independent verifier: dkimpy (Debian package python3-dkim), not nodemailer. Its DNS lookup is replaced by one
 * that answers only `<selector>._domainkey.<domain>` with the given TXT record, so nothing leaves the machine and
 * a signature naming another domain or selector finds no key.
 */
const VERIFIER = `
import base64, json, logging, sys
import dkim
jobs = json.load(sys.stdin)
out = []
for job in jobs:
    want = job["name"].rstrip(".").lower()
    record = job["record"].encode()
    def dnsfunc(name, timeout=5):
        got = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        return record if got == want else None
    log = []
    class Collect(logging.Handler):
        def emit(self, rec):
            log.append(rec.getMessage())
    logger = logging.getLogger("dkim-" + str(len(out)))
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Collect())
    try:
        ok = dkim.verify(base64.b64decode(job["raw"]), logger=logger, dnsfunc=dnsfunc)
        out.append({"ok": bool(ok), "log": log})
    except Exception as e:
        out.append({"ok": False, "log": log + [type(e).__name__ + ": " + str(e)]})
json.dump(out, sys.stdout)
`;

export interface DkimVerdict {
  ok: boolean;
  /** dkimpy's log lines: why a signature failed. */
  log: string[];
}

export function assertVerifierInstalled(): void {
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} is missing: install the Debian packages python3 and python3-dkim`);
}

/** Verifies each message's DKIM signature against the TXT record published (here: handed over) at `name`. */
/** One verdict per message, in order (a tuple of messages gives a tuple of verdicts). */
export async function verifyDkim<const T extends readonly Buffer[]>(
  messages: T,
  dns: { name: string; record: string },
): Promise<{ -readonly [K in keyof T]: DkimVerdict }> {
  assertVerifierInstalled();
  const child = run(SYSTEM_PYTHON, ["-c", VERIFIER], { maxBuffer: 64 * 1024 * 1024 });
  child.child.stdin!.end(JSON.stringify(messages.map((raw) => ({ raw: raw.toString("base64"), ...dns }))));
  try {
    const { stdout } = await child;
    const verdicts = JSON.parse(stdout) as DkimVerdict[];
    if (verdicts.length !== messages.length) throw new Error(`the DKIM verifier gave ${verdicts.length} verdicts for ${messages.length} messages`);
    return verdicts as { -readonly [K in keyof T]: DkimVerdict };
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "");
    if (/No module named .?dkim/.test(stderr)) throw new Error("python3-dkim is not installed: apt-get install -y python3-dkim (CI's .ci/run does this)");
    throw error;
  }
}
