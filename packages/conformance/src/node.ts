import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { mergeFixtures, parseFixtures, type GoldenFixtures } from './fixtures.js';

/** The golden vectors shipped with this package (PyTorch float64; see fixtures/README.md). */
export const DEFAULT_FIXTURES_PATH = fileURLToPath(new URL('../fixtures/pytorch-golden.json.gz', import.meta.url));
/** Whole training steps (PyTorch float64: dense head, losses, clipping, SGD with momentum and Adam). */
export const DEFAULT_TRAINING_FIXTURES_PATH = fileURLToPath(new URL('../fixtures/pytorch-training-golden.json.gz', import.meta.url));

/** Reads a golden file, gzip or plain JSON, in the golden README's format. */
export function loadFixturesFile(path: string): GoldenFixtures {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read fixtures ${path}: ${(error as Error).message}`);
  }
  let text: string;
  try {
    text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
  } catch (error) {
    throw new Error(`${path}: not a readable gzip file (${(error as Error).message}: truncated or corrupt?)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON (gzip or plain): ${(error as Error).message}`);
  }
  return parseFixtures(json, path);
}

let cached: GoldenFixtures | undefined;

/** The shipped forward and training vectors, as one set. */
export function defaultFixtures(): GoldenFixtures {
  return (cached ??= mergeFixtures(loadFixturesFile(DEFAULT_FIXTURES_PATH), loadFixturesFile(DEFAULT_TRAINING_FIXTURES_PATH)));
}

/** Several golden files (either format, or both in one) as one set. */
export function loadFixturesFiles(paths: readonly string[]): GoldenFixtures {
  return mergeFixtures(...paths.map(loadFixturesFile));
}
