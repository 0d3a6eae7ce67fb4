// Summarizes V8 CPU profiles (.cpuprofile, from `node --cpu-prof`, e.g. `run.ts --profile`):
// self time per function, summed over every profile in the given directories.
//
//   npx tsx bench/helper/profile.ts <dir>... [--top N]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string' } },
  allowPositionals: true,
});
const top = Number(values.top ?? 25);

const self = new Map<string, number>(); // µs
let total = 0;
let files = 0;
for (const dir of positionals) {
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.cpuprofile')) continue;
    files++;
    const p = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i])!;
      const dt = p.timeDeltas[i + 1] ?? 0;
      const f = n.callFrame;
      const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
      const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    }
  }
}
const busy = total - (self.get('(idle)') ?? 0);
console.log(
  `${files} profiles, ${(total / 1e3).toFixed(0)} ms sampled, ${(busy / 1e3).toFixed(0)} ms not idle`,
);
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [k, us] of rows) {
  const pct = k === '(idle)' ? '' : ` (${((100 * us) / busy).toFixed(1)}% of busy)`;
  console.log(`${(us / 1e3).toFixed(1).padStart(9)} ms  ${k}${pct}`);
}
