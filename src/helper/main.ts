// Entry of dist/helper/index.js, the daemon:
//   node dist/helper/index.js --dir <store> --socket <path> --log <file>
// It writes only to its log file: when started detached its stdio are /dev/null, and it must never
// write to a go command's output.
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Daemon } from './daemon.js';

function openLog(file: string | undefined): (message: string) => void {
  if (!file) return () => undefined;
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'a');
  } catch {
    return () => undefined;
  }
  return (message) => {
    try {
      fs.writeSync(fd, `${new Date().toISOString()} [${process.pid}] ${message}\n`);
    } catch {
      // a log that cannot be written is not worth dying for
    }
  };
}

async function main(): Promise<void> {
  let values: { dir?: string; socket?: string; log?: string };
  try {
    ({ values } = parseArgs({
      options: { dir: { type: 'string' }, socket: { type: 'string' }, log: { type: 'string' } },
    }));
  } catch (e) {
    process.stderr.write(`go-cache helper: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const log = openLog(values.log);
  if (!values.dir || !values.socket) {
    log('usage: node dist/helper/index.js --dir <store> --socket <path> --log <file>');
    process.stderr.write(
      'usage: node dist/helper/index.js --dir <store> --socket <path> --log <file>\n',
    );
    process.exit(2);
  }
  const daemon = new Daemon({ dir: values.dir, socket: values.socket, log });

  let exiting = false;
  const shutdown = (why: string): void => {
    if (exiting) return;
    exiting = true;
    const hardStop = setTimeout(() => {
      daemon.flushUsageSync();
      process.exit(0);
    }, 15_000);
    hardStop.unref();
    void daemon.stop(why).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  const crash = (e: unknown): void => {
    log(`fatal: ${e instanceof Error ? e.stack : String(e)}`);
    daemon.flushUsageSync();
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  daemon.onStopped = () => process.exit(0);

  try {
    await daemon.start();
  } catch (e) {
    log(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  log(`listening on ${values.socket}, store ${daemon.store.dir}, node ${process.version}`);
}

void main();
