// Runs runSetup(argv) in a process of its own (for tests that send it signals), through
// vite-node so the TypeScript sources run as they are.
import { runSetup } from '../../src/index.js';

process.exitCode = await runSetup(process.argv.slice(2));
