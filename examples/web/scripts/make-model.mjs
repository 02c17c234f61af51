// Makes public/char-lstm.safetensors, the model the page loads: `pnpm demo`'s char-LSTM (2 x LSTM 128 over Moby Dick,
// truncated BPTT), trained for --seconds (default 120) and saved with its vocabulary. Run after `pnpm build`:
//   pnpm --filter web model [-- --seconds 120]
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '120' } } });
const out = mkdtempSync(join(tmpdir(), 'recur-web-model-'));
execFileSync(process.execPath, [join(here, '../../demo/dist/demo.js'), '--seconds', values.seconds, '--out', out, '--generate', '80'], {
  stdio: 'inherit',
});
copyFileSync(join(out, 'char-lstm.safetensors'), join(here, '../public/char-lstm.safetensors'));
console.log('web: public/char-lstm.safetensors written');
