import { DEFAULT_FIXTURES_PATH, DEFAULT_TRAINING_FIXTURES_PATH } from '@recur/conformance/node';
import { build } from 'esbuild';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Bundles the conformance page and serves it, tfjs's .wasm files and the golden fixtures on 127.0.0.1. */
export async function servePage(): Promise<{ url: string; close: () => Promise<void> }> {
  const bundle = await build({ entryPoints: [join(here, 'page.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', write: false, logLevel: 'silent' });
  const require = createRequire(join(here, '../package.json'));
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
  const files = new Map<string, [string, Buffer]>([
    ['/', ['text/html', readFileSync(join(here, 'index.html'))]],
    ['/bundle.js', ['text/javascript', Buffer.from(bundle.outputFiles[0].contents)]],
    ['/fixtures/pytorch-golden.json.gz', ['application/octet-stream', readFileSync(DEFAULT_FIXTURES_PATH)]],
    ['/fixtures/pytorch-training-golden.json.gz', ['application/octet-stream', readFileSync(DEFAULT_TRAINING_FIXTURES_PATH)]],
  ]);
  for (const f of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) files.set(`/wasm/${f}`, ['application/wasm', readFileSync(join(wasmDir, f))]);
  const server: Server = createServer((req, res) => {
    const file = files.get((req.url ?? '/').split('?')[0]);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
