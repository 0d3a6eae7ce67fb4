// The local store: a directory in Go's own GOCACHE layout, so it also works as a plain GOCACHE.
//
//   <dir>/<xx>/<actionID>-a   index entry: "v1 <action hex> <output hex> %20d-size %20d-unixnano\n"
//   <dir>/<xx>/<outputID>-d   output (a directory holding one executable when Go cached a binary)
//   <dir>/.go-cache/tmp/      bodies being received, renamed into place when complete
//   <dir>/.go-cache/usage-*.jsonl   records of use left by shims that served the store themselves,
//                                   and by the daemon on its way out
//
// Everything is written to a temp file and renamed, so several go commands, shims and the daemon
// can share one store: a reader sees a whole file or none.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatGoTime, type BodyReader, type CacheResponse } from './codec.js';

export const HELPER_DIR = '.go-cache';
export const USAGE_PREFIX = 'usage-';
export const USAGE_SUFFIX = '.jsonl';

/** One entry the job read (a hit) or wrote (a put), as handed to the post step. */
export interface UsageEntry {
  actionID: string;
  outputID: string;
  size: number;
  /** ms since the epoch */
  lastUse: number;
  /** 'put' when this job wrote the entry (even if it read it later), 'get' when it only read it */
  op: 'get' | 'put';
}

export interface IndexEntry {
  actionID: string;
  outputID: string;
  size: number;
  /** when the entry was put, Unix nanoseconds (what Go's test cache compares with testexpire.txt) */
  timeNs: bigint;
}

export interface Hit {
  entry: IndexEntry;
  /** absolute path of the output; no file extension */
  diskPath: string;
}

export interface ReceivedBody {
  /** null when the body could not be written anywhere (see unwritablePut) */
  path: string | null;
  /** false when the body had to go to the spill directory (the store could not be written) */
  inStore: boolean;
  size: number;
  problem?: string;
}

export interface PutResult {
  /** what to answer the go command with; it must exist until the go command closes */
  diskPath: string;
  /** true when the entry is in the store (indexed); false: served from a temp/spill file only */
  stored: boolean;
  entry: IndexEntry;
  /** why it was not stored */
  problem?: string;
}

// Go's cache.go: entrySize = 2 + 1 + hexSize + 1 + hexSize + 1 + 20 + 1 + 20 + 1
const HEX_SIZE = 64;
export const ENTRY_SIZE = 2 + 1 + HEX_SIZE + 1 + HEX_SIZE + 1 + 20 + 1 + 20 + 1;
const HEX = /^[0-9a-fA-F]{64}$/;
const PADDED_INT = /^ *\+?[0-9]+$/;
/** Go touches a used entry's mtime at most once an hour (cache.go mtimeInterval). */
const MTIME_INTERVAL_MS = 60 * 60 * 1000;

export function formatIndexEntry(e: IndexEntry): string {
  return `v1 ${e.actionID} ${e.outputID} ${String(e.size).padStart(20)} ${e.timeNs.toString().padStart(20)}\n`;
}

/** Parses an index entry with the checks Go's DiskCache.get makes; null where Go would miss. */
export function parseIndexEntry(data: Buffer | string, actionID?: string): IndexEntry | null {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  if (text.length !== ENTRY_SIZE) return null;
  if (!text.startsWith('v1 ') || !text.endsWith('\n')) return null;
  const a = text.slice(3, 3 + HEX_SIZE);
  const o = text.slice(4 + HEX_SIZE, 4 + 2 * HEX_SIZE);
  const sizeText = text.slice(5 + 2 * HEX_SIZE, 25 + 2 * HEX_SIZE);
  const timeText = text.slice(26 + 2 * HEX_SIZE, 46 + 2 * HEX_SIZE);
  if (text[3 + HEX_SIZE] !== ' ' || text[4 + 2 * HEX_SIZE] !== ' ') return null;
  if (text[25 + 2 * HEX_SIZE] !== ' ') return null;
  if (!HEX.test(a) || !HEX.test(o)) return null;
  if (actionID !== undefined && a.toLowerCase() !== actionID) return null;
  if (!PADDED_INT.test(sizeText) || !PADDED_INT.test(timeText)) return null;
  const size = Number(sizeText.trim());
  if (!Number.isSafeInteger(size)) return null;
  return {
    actionID: a.toLowerCase(),
    outputID: o.toLowerCase(),
    size,
    timeNs: BigInt(timeText.trim()),
  };
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function hitResponse(id: number, hit: Hit): CacheResponse {
  return {
    id,
    outputID: hit.entry.outputID,
    size: hit.entry.size,
    time: formatGoTime(hit.entry.timeNs),
    diskPath: hit.diskPath,
  };
}

function errorText(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}

let tempCounter = 0;
function tempName(): string {
  // No dot: a DiskPath must not have a file extension.
  return `${process.pid}-${++tempCounter}-${randomBytes(4).toString('hex')}`;
}

/** Where bodies go when the store cannot take them: they still give the go command a DiskPath. */
export function spillDir(): string {
  return path.join(os.tmpdir(), 'go-cache-spill');
}

export class Store {
  readonly dir: string;
  readonly tmpDir: string;
  private tmpReady: Promise<void> | null = null;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.tmpDir = path.join(this.dir, HELPER_DIR, 'tmp');
  }

  entryPath(actionID: string): string {
    return path.join(this.dir, actionID.slice(0, 2), `${actionID}-a`);
  }

  outputPath(outputID: string): string {
    return path.join(this.dir, outputID.slice(0, 2), `${outputID}-d`);
  }

  async readEntry(actionID: string): Promise<IndexEntry | null> {
    try {
      return parseIndexEntry(await fsp.readFile(this.entryPath(actionID)), actionID);
    } catch {
      return null;
    }
  }

  /** The output's path if it is there with the recorded size (Go's GetFile check), else null. */
  async findOutput(
    outputID: string,
    size: number,
  ): Promise<{ path: string; mtimeMs: number } | null> {
    const p = this.outputPath(outputID);
    try {
      const st = await fsp.stat(p);
      if (st.isFile()) return st.size === size ? { path: p, mtimeMs: st.mtimeMs } : null;
      if (!st.isDirectory()) return null;
      // Go's own disk cache keeps a `go run`/`go tool` executable as <out>-d/<name>.
      const names = await fsp.readdir(p);
      if (names.length !== 1) return null;
      const inner = path.join(p, names[0]);
      const ist = await fsp.stat(inner);
      return ist.isFile() && ist.size === size ? { path: inner, mtimeMs: st.mtimeMs } : null;
    } catch {
      return null;
    }
  }

  /**
   * A hit when the index entry parses and its output exists with the recorded size. `known` is an
   * entry from memory; when its output is gone, the entry on disk (maybe newer) is tried too.
   */
  async get(actionID: string, known?: IndexEntry): Promise<Hit | null> {
    let entry = known ?? (await this.readEntry(actionID));
    if (!entry) return null;
    let out = await this.findOutput(entry.outputID, entry.size);
    if (!out && known) {
      const disk = await this.readEntry(actionID);
      if (disk && (disk.outputID !== known.outputID || disk.timeNs !== known.timeNs)) {
        entry = disk;
        out = await this.findOutput(disk.outputID, disk.size);
      }
    }
    if (!out) return null;
    this.markUsed(entry, out.mtimeMs);
    return { entry, diskPath: out.path };
  }

  /** Like Go: refresh mtimes (at most hourly) so the dir stays trimmable as a plain GOCACHE. */
  private markUsed(entry: IndexEntry, mtimeMs: number): void {
    const now = Date.now();
    if (now - mtimeMs < MTIME_INTERVAL_MS) return;
    const t = now / 1000;
    void fsp.utimes(this.outputPath(entry.outputID), t, t).catch(() => undefined);
    void fsp.utimes(this.entryPath(entry.actionID), t, t).catch(() => undefined);
  }

  private ensureTmp(): Promise<void> {
    this.tmpReady ??= fsp.mkdir(this.tmpDir, { recursive: true }).then(
      () => undefined,
      (e: unknown) => {
        this.tmpReady = null; // try again next time: the problem may pass
        throw e;
      },
    );
    return this.tmpReady;
  }

  isStoreTemp(file: string): boolean {
    return path.dirname(file) === this.tmpDir;
  }

  /**
   * Writes a put's body to a temp file while hashing it; the SHA-256 must equal outputID (the go
   * command sends the body's SHA-256 as OutputID). When the store cannot be written (full,
   * read-only), the body goes to the spill directory instead, even halfway through. Throws only
   * for a bad body (malformed, wrong size or hash); when nothing at all can be written, the body
   * is still read and checked, and `path` is null.
   */
  async receiveBody(
    body: BodyReader | null,
    outputID: string,
    size: number,
  ): Promise<ReceivedBody> {
    let file: TempFile | null = null;
    let writeError: unknown = null;
    try {
      file = await TempFile.open(this);
    } catch (e) {
      writeError = e;
    }
    const hash = createHash('sha256');
    try {
      if (body) {
        await body.pipe(async (chunk) => {
          hash.update(chunk);
          if (file === null || writeError !== null) return;
          try {
            await file.write(chunk);
          } catch (e) {
            writeError = e;
          }
        });
      }
      if (file !== null && writeError === null) await file.close().catch((e) => (writeError = e));
    } catch (e) {
      await file?.discard();
      throw e;
    }
    const sum = hash.digest('hex');
    if (sum !== outputID) {
      await file?.discard();
      throw new Error(`body SHA-256 ${sum} does not match OutputID ${outputID}`);
    }
    if (file === null || writeError !== null) {
      await file?.discard();
      return {
        path: null,
        inStore: false,
        size,
        problem: `writing the body: ${errorText(writeError)}`,
      };
    }
    return { path: file.path, inStore: file.inStore, size };
  }

  /**
   * The answer to a put that could not be written anywhere. Go fails the whole command on an error
   * answer to a put (its module index is written through the cache), but reads a put's DiskPath
   * only for `go list -export`, a test main and PGO profiles: so answer with where the output
   * would be (it may even be there, from an identical output).
   */
  unwritablePut(outputID: string): string {
    return this.outputPath(outputID);
  }

  /** New temp file in the store; throws when the store cannot take one. */
  async createTemp(): Promise<{ path: string; handle: FileHandle }> {
    await this.ensureTmp();
    const p = path.join(this.tmpDir, tempName());
    // 0o777 & ~umask, like Go's executables: a cached output may be run.
    return { path: p, handle: await fsp.open(p, 'wx+', 0o777) };
  }

  /**
   * Moves a received body into place and writes the index entry. Idempotent: when the body file is
   * gone because an earlier attempt (a daemon that then died) already moved it, the output in the
   * store is used. When the store cannot take it, the body file itself is the answer.
   */
  async commitPut(
    actionID: string,
    outputID: string,
    size: number,
    bodyFile: string,
  ): Promise<PutResult> {
    const entry: IndexEntry = { actionID, outputID, size, timeNs: nowNs() };
    const out = this.outputPath(outputID);
    let problem: string | undefined;
    if (!this.isStoreTemp(bodyFile)) {
      problem = 'the store could not take the body';
    } else {
      try {
        await renameInto(bodyFile, out);
      } catch (e) {
        problem = `storing the output: ${errorText(e)}`;
      }
      if (problem !== undefined && (await this.findOutput(outputID, size))) {
        // Already there (another process, or the rename above happened before a crash).
        problem = undefined;
        await fsp.rm(bodyFile, { force: true }).catch(() => undefined);
      }
    }
    if (problem !== undefined) {
      const st = await fsp.stat(bodyFile).catch(() => null);
      if (!st || st.size !== size) {
        return {
          diskPath: this.unwritablePut(outputID),
          stored: false,
          entry,
          problem: `${problem}; the body file is gone`,
        };
      }
      return { diskPath: bodyFile, stored: false, entry, problem };
    }
    try {
      await this.writeFileAtomic(this.entryPath(actionID), formatIndexEntry(entry));
    } catch (e) {
      return {
        diskPath: out,
        stored: false,
        entry,
        problem: `writing the index entry: ${errorText(e)}`,
      };
    }
    return { diskPath: out, stored: true, entry };
  }

  private async writeFileAtomic(file: string, text: string): Promise<void> {
    const { path: tmp, handle } = await this.createTemp();
    try {
      await handle.writeFile(text);
      await handle.close();
      await renameInto(tmp, file);
    } catch (e) {
      await handle.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  /** Every parseable index entry (for the daemon's index at startup). */
  async *scan(): AsyncGenerator<IndexEntry> {
    for (let i = 0; i < 256; i++) {
      const sub = path.join(this.dir, i.toString(16).padStart(2, '0'));
      let names: string[];
      try {
        names = await fsp.readdir(sub);
      } catch {
        continue;
      }
      const ids = names.filter((n) => n.endsWith('-a')).map((n) => n.slice(0, -2));
      for (let j = 0; j < ids.length; j += 64) {
        const batch = await Promise.all(ids.slice(j, j + 64).map((id) => this.readEntry(id)));
        for (const e of batch) if (e) yield e;
      }
    }
  }

  /** Removes temp and spill files older than maxAgeMs (left by killed processes). */
  async pruneTemp(maxAgeMs: number): Promise<number> {
    let removed = 0;
    const cutoff = Date.now() - maxAgeMs;
    for (const dir of [this.tmpDir, spillDir()]) {
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      for (const n of names) {
        const p = path.join(dir, n);
        const st = await fsp.stat(p).catch(() => null);
        if (st && st.mtimeMs < cutoff) {
          await fsp.rm(p, { force: true, recursive: true }).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }

  usageFile(who: string): string {
    return path.join(this.dir, HELPER_DIR, `${USAGE_PREFIX}${who}${USAGE_SUFFIX}`);
  }

  async appendUsage(who: string, entries: Iterable<UsageEntry>): Promise<void> {
    let text = '';
    for (const e of entries) text += JSON.stringify(e) + '\n';
    if (!text) return;
    await fsp.mkdir(path.join(this.dir, HELPER_DIR), { recursive: true });
    await fsp.appendFile(this.usageFile(who), text);
  }

  /** Removes the records of use of an earlier job (a daemon starts a new one). */
  async clearUsage(): Promise<void> {
    const dir = path.join(this.dir, HELPER_DIR);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      if (n.startsWith(USAGE_PREFIX) && n.endsWith(USAGE_SUFFIX)) {
        await fsp.rm(path.join(dir, n), { force: true });
      }
    }
  }
}

async function renameInto(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // The <xx> directory may not exist yet (Go makes all 256 up front; we make them on demand).
    await fsp.mkdir(path.dirname(to), { recursive: true });
    await fsp.rename(from, to);
  }
}

/** Records of use (one JSON UsageEntry a line), merged per action: latest use wins, 'put' sticks. */
export function mergeUsage(into: Map<string, UsageEntry>, e: UsageEntry): void {
  const old = into.get(e.actionID);
  if (!old) {
    into.set(e.actionID, e);
    return;
  }
  const newer = e.lastUse >= old.lastUse ? e : old;
  const op = old.op === 'put' || e.op === 'put' ? 'put' : 'get';
  into.set(e.actionID, { ...newer, op });
}

export function parseUsageLine(line: string): UsageEntry | null {
  try {
    const v = JSON.parse(line) as Partial<UsageEntry> | null;
    if (
      v &&
      typeof v.actionID === 'string' &&
      HEX.test(v.actionID) &&
      typeof v.outputID === 'string' &&
      HEX.test(v.outputID) &&
      typeof v.size === 'number' &&
      typeof v.lastUse === 'number' &&
      (v.op === 'get' || v.op === 'put')
    ) {
      return {
        actionID: v.actionID,
        outputID: v.outputID,
        size: v.size,
        lastUse: v.lastUse,
        op: v.op,
      };
    }
  } catch {
    // a torn last line of a killed writer
  }
  return null;
}

/**
 * A body being received. Starts in the store's temp dir; when a write fails there (disk full,
 * read-only), what was written so far is copied to the spill dir and writing goes on there.
 */
class TempFile {
  private written = 0;

  private constructor(
    public path: string,
    private handle: FileHandle,
    public inStore: boolean,
  ) {}

  static async open(store: Store): Promise<TempFile> {
    try {
      const t = await store.createTemp();
      return new TempFile(t.path, t.handle, true);
    } catch {
      const t = await TempFile.openSpill();
      return new TempFile(t.path, t.handle, false);
    }
  }

  private static async openSpill(): Promise<{ path: string; handle: FileHandle }> {
    await fsp.mkdir(spillDir(), { recursive: true, mode: 0o700 });
    const p = path.join(spillDir(), tempName());
    return { path: p, handle: await fsp.open(p, 'wx+', 0o777) };
  }

  async write(chunk: Buffer): Promise<void> {
    try {
      await this.writeAll(chunk);
    } catch (e) {
      if (!this.inStore) throw e;
      await this.failOver();
      await this.writeAll(chunk);
    }
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.handle.write(
        chunk,
        off,
        chunk.length - off,
        this.written,
      );
      off += bytesWritten;
      this.written += bytesWritten;
    }
  }

  private async failOver(): Promise<void> {
    const spill = await TempFile.openSpill();
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let pos = 0; pos < this.written;) {
        const { bytesRead } = await this.handle.read(
          buf,
          0,
          Math.min(buf.length, this.written - pos),
          pos,
        );
        if (bytesRead === 0) throw new Error('temp file shorter than written');
        let off = 0;
        while (off < bytesRead) {
          off += (await spill.handle.write(buf, off, bytesRead - off, pos + off)).bytesWritten;
        }
        pos += bytesRead;
      }
    } catch (e) {
      await spill.handle.close().catch(() => undefined);
      await fsp.rm(spill.path, { force: true });
      throw e;
    }
    await this.handle.close().catch(() => undefined);
    await fsp.rm(this.path, { force: true });
    this.handle = spill.handle;
    this.path = spill.path;
    this.inStore = false;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fsp.rm(this.path, { force: true });
  }
}
