// Prints the image's roost.service: the daemon's own renderUnit() (appliance/src/system/service.ts)
// with the paths of the image, i.e. byte for byte what `roost setup` writes there later
// (its serviceUnitOptions: "<node> <bin/roost.js> serve --config <config>", user and group roost),
// so the first setup finds the unit unchanged.
// Usage: node render-unit.mjs APPDIR   (APPDIR = the staged /opt/roost, with dist/)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const IMAGE_PATHS = {
  node: '/usr/local/bin/node',
  app: '/opt/roost',
  config: '/etc/roost/roost.yaml',
  data: '/var/lib/roost',
  user: 'roost',
};

const appDir = process.argv[2];
if (!appDir) {
  process.stderr.write('usage: node render-unit.mjs APPDIR\n');
  process.exit(2);
}
const { renderUnit } = await import(pathToFileURL(join(appDir, 'dist/appliance/src/system/service.js')).href);
const p = IMAGE_PATHS;
process.stdout.write(
  renderUnit({
    execStart: `${p.node} ${p.app}/bin/roost.js serve --config ${p.config}`,
    configPath: p.config,
    dataDir: p.data,
    user: p.user,
    group: p.user,
  }),
);
