/**
 * Where each shell command the documentation shows is run: `runIn` names the file that runs it verbatim (CI's
 * script, a test), `notRun` says why no test runs it (and what covers it instead).
 */
export const COMMANDS: Record<string, { readonly runIn: string } | { readonly notRun: string }> = {
  'npm i -g pnpm@12.4.2 && pnpm install --frozen-lockfile && pnpm test': { runIn: '.ci/run' },
  'npm i -g pnpm@12.4.2 && pnpm install --frozen-lockfile && pnpm demo': {
    notRun:
      'examples/demo/test/demo.test.ts runs the demo itself, the whole 150-second training with --check, through node dist/demo.js rather than this line',
  },
  'npx recur-conformance --import ./dist/my-backend.js --backend mine': { runIn: 'packages/docs/test/backend-authoring.test.ts' },
  'npx recur-conformance --import ./dist/my-backend.js --backend mine --fixtures my-model.json.gz': {
    runIn: 'packages/docs/test/backend-authoring.test.ts',
  },
  'pnpm bench': { notRun: 'about 35 minutes on 2 cores; CI runs the same command with --quick' },
  'pnpm bench --quick': { runIn: 'scripts/test.sh' },
  'pnpm bench --backend simd --case lstm-seq --peer ort-2t --reps 10 --out out/bench': {
    notRun: 'an example of the options of pnpm bench, which CI runs with --quick',
  },
  'pnpm bench:webgl': { notRun: 'the full WebGL benchmark takes tens of minutes; CI runs the same command with --quick' },
  'pnpm bench:webgl --where browser --reps 5 --case lstm-seq --out out/bench-webgl': {
    notRun: 'an example of the options of pnpm bench:webgl, which CI runs with --quick',
  },
  'pnpm bench:webgl --quick': { runIn: 'scripts/test.sh' },
  'bash packages/backend-cuda/scripts/pack-device.sh': {
    notRun: 'prepares the GPU check for a machine with an NVIDIA GPU, which CI does not have',
  },
  'bash .device/recur/scripts/device-run.sh': {
    notRun: 'runs on a machine with an NVIDIA GPU, which CI does not have (figures in docs/benchmarks.md)',
  },
  'pnpm --filter @recur/backend-simd build:wasm': {
    notRun: 'rewrites the committed binaries; check:wasm, which CI runs, makes the same build in a scratch folder and compares',
  },
  'pnpm --filter @recur/backend-simd check:wasm': { runIn: 'scripts/test.sh' },
  'pnpm run docs': { runIn: 'scripts/test.sh' },
  'pnpm --filter web dev': {
    notRun: 'a development server that runs until stopped; examples/web/test/page.test.ts tests the built page the same server serves',
  },
  'pnpm --filter web build': {
    notRun:
      "CI builds every package through turbo (the package's build script, this command's), then examples/web/test/page.test.ts opens dist/",
  },
};
