import { z } from "zod";
import { KINDS } from "../src/contracts/index.js";
for (const [k, d] of Object.entries(KINDS)) {
  const s = z.toJSONSchema(d.schema, { io: "input", target: "draft-2020-12" });
  console.log(k, JSON.stringify(s).slice(0, 3000));
}
