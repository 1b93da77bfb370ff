// Cost of the open-registration CAPTCHA (server/src/modules/captcha): every unauthenticated
// `iq get jabber:iq:register` in registration.mode open draws one PNG, so its CPU time bounds how
// many such requests one core answers per second. Prints the median/p95 time per picture and the
// PNG size (XEP-0231 wants data under 8 KB).
//
//   npm run build && node dist/bench/captcha.js [--count 300]
import { parseArgs } from 'node:util';
import { renderCaptchaPng } from '../server/src/modules/captcha/image.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '300' } } });
const count = Math.max(10, Number(values.count) || 300);

for (let i = 0; i < 20; i++) renderCaptchaPng('123456'); // warm-up (JIT)
const times: number[] = [];
const sizes: number[] = [];
for (let i = 0; i < count; i++) {
  const digits = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
  const t = performance.now();
  const png = renderCaptchaPng(digits);
  times.push(performance.now() - t);
  sizes.push(png.length);
}
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
console.log(`pictures: ${count}`);
console.log(`ms per picture: median ${q(times, 0.5).toFixed(2)}, p95 ${q(times, 0.95).toFixed(2)} (about ${Math.round(1000 / q(times, 0.5))} per second on one core)`);
console.log(`PNG bytes: median ${q(sizes, 0.5)}, max ${Math.max(...sizes)}`);
