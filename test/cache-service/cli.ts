// Runs the local Actions cache service until SIGINT/SIGTERM.
//
//   npx tsx test/cache-service/cli.ts [--port N] [--dir D] [--env-out F] [--quiet]
//
// stdout gets the environment the @actions/cache client needs, one KEY=value per line (no spaces,
// no quoting needed). --env-out F (not `--env-file`: tsx hands that one to node) appends the same
// lines to F once the service listens, so F appearing is the readiness signal:
//   npx tsx test/cache-service/cli.ts --env-out /tmp/cache.env &
//   until [ -s /tmp/cache.env ]; do sleep 0.2; done; set -a; . /tmp/cache.env; set +a
// and `--env-out "$GITHUB_ENV"` hands it to the next steps of a workflow. One line per request goes
// to stderr unless --quiet.
import fs from 'node:fs';
import { startCacheService, type StartOptions } from './server.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`cache-service: ${msg}\n`);
  process.stderr.write(
    'usage: tsx test/cache-service/cli.ts [--port N] [--dir D] [--env-out F] [--quiet]\n',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): {
  port: number;
  dir?: string;
  envOut?: string;
  quiet: boolean;
} {
  const out: { port: number; dir?: string; envOut?: string; quiet: boolean } = {
    port: 0,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 0 || p > 65535) usage(`bad port`);
        out.port = p;
        break;
      }
      case '--dir':
        out.dir = value();
        break;
      case '--env-out':
        out.envOut = value();
        break;
      case '--quiet':
        out.quiet = true;
        break;
      case '-h':
      case '--help':
        usage();
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const opts: StartOptions = { port: args.port };
  if (args.dir) opts.dir = args.dir;
  if (!args.quiet) opts.log = (line) => process.stderr.write(`cache-service: ${line}\n`);
  const svc = await startCacheService(opts);
  const lines = Object.entries(svc.env).map(([k, v]) => `${k}=${v}`);
  if (args.envOut) fs.appendFileSync(args.envOut, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stderr.write(
    `cache-service: listening on ${svc.url}, storing in ${args.dir ?? 'a temp dir'}; Ctrl-C to stop\n`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const t = svc.traffic();
    process.stderr.write(
      `cache-service: ${signal}: stopping (uploaded ${t.uploadedBytes} B, downloaded ${t.downloadedBytes} B, requests ${JSON.stringify(t.requests)})\n`,
    );
    svc.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`cache-service: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`cache-service: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
