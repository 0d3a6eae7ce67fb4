// Writes a small file tree for the module-cache tests: `/`-separated paths to their text.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, text);
  }
}
