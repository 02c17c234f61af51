// Runs one matrix case in its own process: node test/child.mjs BACKEND "CASE ID"; prints one JSON line.
import { runCase } from './cases.mjs';

const [backend, id] = process.argv.slice(2);
const result = await runCase(backend, id).catch((error) => ({ outcome: 'raw', detail: `${error?.name}: ${error?.message}` }));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
