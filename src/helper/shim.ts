// Entry of dist/shim/index.js, what GOCACHEPROG names:
//   GOCACHEPROG="node dist/shim/index.js --dir <store> [--socket <daemon>] [--log <file>]"
// Every go command starts one, so it stays small: node built-ins, the codec and the store only.
// Without --socket (or when the daemon cannot be reached) it serves the store itself.
import { parseArgs } from 'node:util';
import { runShim } from './proxy.js';

async function main(): Promise<number> {
  let values: { dir?: string; socket?: string; log?: string };
  try {
    ({ values } = parseArgs({
      options: { dir: { type: 'string' }, socket: { type: 'string' }, log: { type: 'string' } },
    }));
  } catch (e) {
    process.stderr.write(`go-cache shim: ${(e as Error).message}\n`);
    return 2;
  }
  if (!values.dir) {
    process.stderr.write(
      'usage: node dist/shim/index.js --dir <store> [--socket <path>] [--log <file>]\n',
    );
    return 2;
  }
  const stallMs = Number(process.env.GO_CACHE_SHIM_STALL_MS) || undefined;
  return runShim({
    dir: values.dir,
    socket: values.socket || undefined,
    log: values.log || undefined,
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
    stallMs,
  });
}

main().then(
  (code) => process.stdout.end(() => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`go-cache shim: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
