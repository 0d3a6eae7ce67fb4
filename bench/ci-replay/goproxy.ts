// A read-only GOPROXY on 127.0.0.1 serving a module cache's cache/download tree (the GOPROXY
// protocol is that tree as static files), counting what it serves: the benchmark's stand-in for
// proxy.golang.org, so "modules downloaded from the network" is measured without the network.
import { createReadStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface ProxyTraffic {
  requests: number;
  bytes: number;
  /** Paths answered 404 (a module the seed lacks, or a checksum-database lookup). */
  notFound: string[];
}

export interface GoProxy {
  url: string;
  traffic(): ProxyTraffic;
  stop(): Promise<void>;
}

export async function startGoProxy(downloadDir: string): Promise<GoProxy> {
  const root = path.resolve(downloadDir);
  const t: ProxyTraffic = { requests: 0, bytes: 0, notFound: [] };
  const server = http.createServer((req, res) => {
    t.requests++;
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.resolve(root, '.' + urlPath);
    const notFound = () => {
      t.notFound.push(urlPath);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    };
    if (req.method !== 'GET' || !file.startsWith(root + path.sep) || urlPath.includes('/../')) {
      notFound();
      return;
    }
    fsp
      .stat(file)
      .then((st) => {
        if (!st.isFile()) return notFound();
        res.writeHead(200, { 'content-length': String(st.size) });
        const s = createReadStream(file);
        s.on('data', (chunk) => (t.bytes += chunk.length));
        s.on('error', () => res.destroy());
        s.pipe(res);
      })
      .catch(notFound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    traffic: () => ({ ...t, notFound: [...t.notFound] }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
