import { z } from "zod";
import { KINDS, type KindName } from "./index.js";

/** JSON Schema (draft 2020-12) of what a producer sends for each kind: for docs, the HTTP API and non-Node producers. */
export function jsonSchemas(): Record<KindName, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(KINDS).map(([kind, def]) => [
      kind,
      {
        $id: `urn:herald:schema:v1:${kind}`,
        title: kind,
        description: def.summary,
        ...z.toJSONSchema(def.schema, { io: "input", unrepresentable: "any" }),
      },
    ]),
  ) as unknown as Record<KindName, Record<string, unknown>>;
}
