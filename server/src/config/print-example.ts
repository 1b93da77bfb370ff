// Prints roost.example.yaml (every key at its default, explained):
//   npx vite-node server/src/config/print-example.ts > roost.example.yaml
// server/test/config.test.ts fails when the committed file differs from this output.
import { renderConfigYaml } from './render.js';

process.stdout.write(renderConfigYaml({}));
