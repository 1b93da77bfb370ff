#!/usr/bin/env node
// The `roost` command. Runs the compiled CLI (npm install / npm run build produce dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/server/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('roost: the compiled code is missing; run `npm install` (or `npm run build`) first.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
