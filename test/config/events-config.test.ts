import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, twilioCallbackUrl, unknownVariables } from "../../src/config/index.js";
import { newSecret } from "../../src/webhooks/standard-webhooks.js";
import { testEnv } from "../support/herald.js";

const endpoint = (extra: Record<string, unknown> = {}) => ({
  url: "https://hooks.example.com/herald",
  events: ["notification.delivered"],
  secrets: [newSecret()],
  ...extra,
});

describe("event settings: HERALD_PUBLIC_URL, HERALD_WEBHOOKS(_FILE), OTEL_*", () => {
  it("HERALD_PUBLIC_URL must be an http(s) base URL; the callback URL is built from it", () => {
    expect(() => loadConfig(testEnv({ HERALD_PUBLIC_URL: "herald.example.com" }))).toThrow(/HERALD_PUBLIC_URL must be a URL/);
    expect(() => loadConfig(testEnv({ HERALD_PUBLIC_URL: "https://h.example.com/?x=1" }))).toThrow(/HERALD_PUBLIC_URL must be a base URL/);
    expect(loadConfig(testEnv({ HERALD_PUBLIC_URL: "https://h.example.com" })).HERALD_PUBLIC_URL).toBe("https://h.example.com");
    expect(twilioCallbackUrl("https://h.example.com/")).toBe("https://h.example.com/v1/callbacks/twilio");
  });

  it("endpoints from HERALD_WEBHOOKS, with a stable default id", () => {
    const config = loadConfig(testEnv({ HERALD_WEBHOOKS: JSON.stringify([endpoint(), endpoint({ id: "crm", url: "http://127.0.0.1:9999/x" })]) }));
    expect(config.webhooks).toHaveLength(2);
    expect(config.webhooks[0]!.id).toMatch(/^ep-[0-9a-f]{12}$/);
    expect(config.webhooks[1]!.id).toBe("crm");
    expect(loadConfig(testEnv()).webhooks).toEqual([]);
  });

  it("a bad endpoint stops start-up naming the variable and entry, never echoing a secret", () => {
    const secret = "whsec_dG9vLXNob3J0";
    const bad = (list: unknown) => () => loadConfig(testEnv({ HERALD_WEBHOOKS: JSON.stringify(list) }));
    expect(bad([endpoint({ events: ["notification.sent"] })])).toThrow(/HERALD_WEBHOOKS entry 1: events may be notification\.accepted/);
    expect(bad([endpoint(), endpoint({ url: "http://hooks.example.com/x" })])).toThrow(/HERALD_WEBHOOKS entry 2: url must be an https URL/);
    expect(bad([endpoint({ secrets: [] })])).toThrow(/secrets must hold at least one/);
    let message = "";
    try {
      bad([endpoint({ secrets: [secret] })])();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/HERALD_WEBHOOKS entry 1: secrets: a webhook secret must hold at least 16 bytes/);
    expect(message).not.toContain("dG9vLXNob3J0");
    expect(() => loadConfig(testEnv({ HERALD_WEBHOOKS: "[{" }))).toThrow(ConfigError);
    expect(() => loadConfig(testEnv({ HERALD_WEBHOOKS: "[{" }))).toThrow(/HERALD_WEBHOOKS is not valid JSON/);
  });

  it("HERALD_WEBHOOKS_FILE takes YAML (or JSON); a missing file is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-hooks-"));
    const file = join(dir, "webhooks.yaml");
    writeFileSync(
      file,
      `- id: crm\n  url: https://crm.example.com/hooks\n  events: [notification.accepted, notification.dead_lettered]\n  secrets:\n    - ${newSecret()}\n`,
    );
    expect(loadConfig(testEnv({ HERALD_WEBHOOKS_FILE: file })).webhooks).toMatchObject([
      { id: "crm", events: ["notification.accepted", "notification.dead_lettered"] },
    ]);
    expect(() => loadConfig(testEnv({ HERALD_WEBHOOKS_FILE: join(dir, "nope.yaml") }))).toThrow(/HERALD_WEBHOOKS_FILE there is no file/);
    expect(() => loadConfig(testEnv({ HERALD_WEBHOOKS_FILE: file, HERALD_WEBHOOKS: "[]" }))).toThrow(/not both/);
  });

  it("OTEL_* variables are not Herald's and pass the unknown-variable check; HERALD_OTEL is declared", () => {
    expect(unknownVariables({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318", OTEL_SERVICE_NAME: "herald", HERALD_OTEL: "1" })).toEqual([]);
    expect(() => loadConfig(testEnv({ OTEL_TRACES_EXPORTER: "otlp", HERALD_OTEL: "1" }))).not.toThrow();
  });
});
