// Go's index entry format (cmd/go/internal/cache/cache.go): "v1 <action> <output> <size> <time>\n",
// size and time (Unix ns) right-aligned in 20 columns. Kept byte-exact so a store is also a GOCACHE.

export interface IndexEntry {
  actionID: string;
  outputID: string;
  size: number;
  timeNanos: bigint;
}

const ENTRY = /^v1 ([0-9a-f]{64}) ([0-9a-f]{64}) +(\d{1,20}) +(\d{1,20})\n$/;

export function parseIndexEntry(text: string): IndexEntry | null {
  const m = ENTRY.exec(text);
  // Fixed columns, as Go checks them: a shifted field is a corrupt entry, not a different number.
  if (!m || text.length !== 175 || text[132] !== ' ' || text[153] !== ' ') return null;
  const size = Number(m[3]);
  if (!Number.isSafeInteger(size)) return null;
  return { actionID: m[1]!, outputID: m[2]!, size, timeNanos: BigInt(m[4]!) };
}

export function formatIndexEntry(e: IndexEntry): string {
  return `v1 ${e.actionID} ${e.outputID} ${String(e.size).padStart(20)} ${e.timeNanos.toString().padStart(20)}\n`;
}

export const indexPath = (actionID: string) => `${actionID.slice(0, 2)}/${actionID}-a`;
export const outputPath = (outputID: string) => `${outputID.slice(0, 2)}/${outputID}-d`;
