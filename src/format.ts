// Human units for logs and the job summary.
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  if (ms >= 86400e3 && ms % 86400e3 === 0) return `${ms / 86400e3}d`;
  if (ms >= 3600e3 && ms % 3600e3 === 0) return `${ms / 3600e3}h`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
