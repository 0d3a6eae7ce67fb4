// Thin I/O around the tiers: move a restored tier's verified entries into the store, stage a tier for
// upload, list what a store holds. Decisions live in workingset.ts and policy.ts.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { indexPath, outputPath, parseIndexEntry } from './entryfile.js';
import { MANIFEST_NAME, parseManifest, type TierEntry, type TierManifest } from './manifest.js';

export interface AbsorbResult {
  manifest: TierManifest | null;
  entries: TierEntry[];
  bytes: number;
  dropped: Array<{ actionID: string; reason: string }>;
}

/**
 * Moves a restored tier's entries into the store, each only after its output's SHA-256 equals its
 * OutputID and its index entry agrees: a corrupt or tampered archive costs a rebuild, never a wrong
 * build.
 */
export async function absorbTier(tierDir: string, storeDir: string): Promise<AbsorbResult> {
  const manifestText = await fs
    .readFile(path.join(tierDir, MANIFEST_NAME), 'utf8')
    .catch(() => null);
  const manifest = manifestText === null ? null : parseManifest(manifestText);
  const result: AbsorbResult = { manifest, entries: [], bytes: 0, dropped: [] };
  if (!manifest) return result;
  // Many actions can share one output (the empty file, identical objects): check and move each output
  // once, then each index entry that names it.
  const byOutput = new Map<string, TierEntry[]>();
  for (const e of manifest.entries) byOutput.set(e.o, [...(byOutput.get(e.o) ?? []), e]);
  await forEachLimited([...byOutput.values()], 8, async (group) => {
    const { o, s } = group[0]!;
    const bad = group.some((e) => e.s !== s)
      ? 'entries disagree on the output size'
      : await verifyOutput(tierDir, o, s);
    if (bad) {
      for (const e of group) result.dropped.push({ actionID: e.a, reason: bad });
      return;
    }
    await moveInto(tierDir, storeDir, outputPath(o));
    for (const e of group) {
      const reason = await verifyIndex(tierDir, e);
      if (reason) {
        result.dropped.push({ actionID: e.a, reason });
        continue;
      }
      await moveInto(tierDir, storeDir, indexPath(e.a));
      result.entries.push(e);
      result.bytes += e.s;
    }
  });
  return result;
}

async function moveInto(fromDir: string, toDir: string, rel: string): Promise<void> {
  const to = path.join(toDir, rel);
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.rename(path.join(fromDir, rel), to);
}

async function verifyIndex(dir: string, e: TierEntry): Promise<string | null> {
  const indexText = await fs.readFile(path.join(dir, indexPath(e.a)), 'latin1').catch(() => null);
  if (indexText === null) return 'index entry missing';
  const index = parseIndexEntry(indexText);
  if (!index || index.outputID !== e.o || index.size !== e.s)
    return 'index entry does not match the manifest';
  return null;
}

async function verifyOutput(dir: string, outputID: string, size: number): Promise<string | null> {
  const file = path.join(dir, outputPath(outputID));
  const st = await fs.stat(file).catch(() => null);
  if (!st?.isFile()) return 'output missing';
  if (st.size !== size) return `output is ${st.size} bytes, expected ${size}`;
  if ((await sha256File(file)) !== outputID) return 'output content does not match its OutputID';
  return null;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Lays out a tier for upload: hard links to the store's files (copies across devices) and a manifest. */
export async function stageTier(
  storeDir: string,
  tierDir: string,
  manifest: TierManifest,
): Promise<{ entries: TierEntry[]; missing: number }> {
  await fs.rm(tierDir, { recursive: true, force: true });
  await fs.mkdir(tierDir, { recursive: true });
  const present: TierEntry[] = [];
  let missing = 0;
  await forEachLimited(manifest.entries, 16, async (e) => {
    try {
      for (const rel of [outputPath(e.o), indexPath(e.a)]) {
        await linkOrCopy(path.join(storeDir, rel), path.join(tierDir, rel));
      }
      present.push(e);
    } catch {
      missing++;
    }
  });
  present.sort((x, y) => (x.a < y.a ? -1 : 1));
  await fs.writeFile(
    path.join(tierDir, MANIFEST_NAME),
    JSON.stringify({ ...manifest, entries: present }),
  );
  return { entries: present, missing };
}

/**
 * Hard-links `from` to `to` (making its directory), copying across devices or where links are not
 * allowed. An existing `to` is left as it is: staged files are content-addressed, so it is the same.
 */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.link(from, to).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return;
    if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
    await fs.copyFile(from, to);
  });
}

export interface StoreEntry extends TierEntry {
  /** mtime of the index entry, ms: Go's native cache refreshes it on use. */
  mtimeMs: number;
}

/** Every valid entry of a store in Go's layout. */
export async function listStore(storeDir: string): Promise<StoreEntry[]> {
  const out: StoreEntry[] = [];
  const subdirs = await fs.readdir(storeDir).catch(() => [] as string[]);
  for (const sub of subdirs) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    const names = await fs.readdir(path.join(storeDir, sub)).catch(() => [] as string[]);
    await forEachLimited(
      names.filter((n) => n.endsWith('-a')),
      16,
      async (name) => {
        const file = path.join(storeDir, sub, name);
        const [text, st] = await Promise.all([fs.readFile(file, 'latin1'), fs.stat(file)]).catch(
          () => [null, null],
        );
        const e = text === null ? null : parseIndexEntry(text);
        if (!e || !st) return;
        const outSt = await fs.stat(path.join(storeDir, outputPath(e.outputID))).catch(() => null);
        if (!outSt || outSt.size !== e.size) return;
        out.push({
          a: e.actionID,
          o: e.outputID,
          s: e.size,
          t: Math.max(st.mtimeMs, outSt.mtimeMs),
          mtimeMs: Math.max(st.mtimeMs, outSt.mtimeMs),
        });
      },
    );
  }
  return out;
}

/** Sets index and output mtimes, so that Go's native cache (which refreshes mtimes older than an hour on use) reveals what a job used. */
export async function ageEntries(
  storeDir: string,
  entries: readonly TierEntry[],
  when: Date,
): Promise<void> {
  await forEachLimited(entries, 16, async (e) => {
    for (const rel of [indexPath(e.a), outputPath(e.o)]) {
      await fs.utimes(path.join(storeDir, rel), when, when).catch(() => undefined);
    }
  });
}

const EXEC_MAGIC = [
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]), // ELF
  Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), // Mach-O 64
  Buffer.from([0xfe, 0xed, 0xfa, 0xcf]),
  Buffer.from('MZ'), // PE
];

/** Marks outputs that are executables (linked binaries: `go run`, `go tool`, test binaries). */
export async function markExecutables(
  storeDir: string,
  entries: TierEntry[],
  minBytes = 256 * 1024,
): Promise<void> {
  await forEachLimited(
    entries.filter((e) => e.s >= minBytes),
    8,
    async (e) => {
      const fh = await fs.open(path.join(storeDir, outputPath(e.o))).catch(() => null);
      if (!fh) return;
      try {
        const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
        if (EXEC_MAGIC.some((m) => bytesRead >= m.length && buffer.subarray(0, m.length).equals(m)))
          e.x = 1;
      } finally {
        await fh.close();
      }
    },
  );
}

export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
