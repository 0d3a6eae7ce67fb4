// Which build-cache mode a job runs in. Pure.
import type { Mode } from './inputs.js';

export function chooseMode(
  requested: Mode,
  goVersion: string,
  helperSupported: boolean,
): { mode: 'helper' | 'native'; reason: string } {
  if (requested === 'native') return { mode: 'native', reason: "input 'mode' is native" };
  if (!helperSupported) {
    return {
      mode: 'native',
      reason: `Go ${goVersion} has no GOCACHEPROG (it needs Go 1.24 or newer); GOCACHE points at the restored store instead`,
    };
  }
  return {
    mode: 'helper',
    reason:
      requested === 'helper' ? "input 'mode' is helper" : `Go ${goVersion} supports GOCACHEPROG`,
  };
}

/**
 * Quotes one GOCACHEPROG word the way cmd/internal/quoted splits it: quotes group, there is no
 * escaping, so a word is wrapped in whichever quote it does not contain.
 */
export function quoteWord(word: string): string {
  if (word !== '' && !/[\s'"]/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!word.includes('"')) return `"${word}"`;
  throw new Error(`cannot quote ${word} for GOCACHEPROG: it holds both kinds of quote`);
}
