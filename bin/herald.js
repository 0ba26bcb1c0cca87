#!/usr/bin/env node
// The published CLI runs the compiled code; in a checkout use `npm run herald -- <command>`.
import("../dist/cli/main.js");
