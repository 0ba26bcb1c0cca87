import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate authority made with `openssl` in a temporary folder: its PEM files, and server certificates it signs. */
export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file). */
  ca: string;
  /** A server certificate for these subject alternative names, e.g. `IP:127.0.0.1,DNS:localhost`. */
  issue(name: string, altNames: string): { cert: string; key: string };
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

export function makeTestCa(name = "Herald Test CA"): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "herald-ca-"));
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", `/CN=${name}`]);
  return {
    dir,
    ca: join(dir, "ca.crt"),
    issue(server, altNames) {
      openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${server}.key`, "-out", `${server}.csr`, "-subj", `/CN=${server}`]);
      writeFileSync(join(dir, `${server}.ext`), `subjectAltName=${altNames}\n`);
      openssl(dir, [
        "x509",
        "-req",
        "-in",
        `${server}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${server}.crt`,
        "-days",
        "2",
        "-extfile",
        `${server}.ext`,
      ]);
      return { cert: join(dir, `${server}.crt`), key: join(dir, `${server}.key`) };
    },
  };
}
