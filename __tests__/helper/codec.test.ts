import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeRequest,
  encodeResponse,
  formatGoTime,
  handshakeLine,
  LineSplitter,
  parseResponse,
  RequestReader,
  type CacheRequest,
  type ReadResult,
} from '../../src/helper/codec.js';

const A = 'a1'.repeat(32);
const O = '0f'.repeat(32);
const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

/** A source that yields the given chunks, recording how far it has been read. */
function source(chunks: (Buffer | string)[]): AsyncIterable<Buffer> & { pulled: number } {
  const s = {
    pulled: 0,
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) {
        s.pulled++;
        yield typeof c === 'string' ? Buffer.from(c) : c;
      }
    },
  };
  return s;
}

interface Decoded {
  results: ReadResult[];
  bodies: Map<number, Buffer | string>; // decoded body, or the error message
}

async function decodeAll(input: (Buffer | string)[], readBodies = true): Promise<Decoded> {
  const reader = new RequestReader(source(input));
  const results: ReadResult[] = [];
  const bodies = new Map<number, Buffer | string>();
  for (;;) {
    const r = await reader.next();
    results.push(r);
    if (r.kind === 'eof' || r.kind === 'fatal') break;
    if (r.kind === 'request' && r.body && readBodies) {
      const parts: Buffer[] = [];
      try {
        await r.body.pipe((c) => void parts.push(Buffer.from(c)));
        bodies.set(r.request.id, Buffer.concat(parts));
      } catch (e) {
        bodies.set(r.request.id, (e as Error).message);
      }
    }
  }
  return { results, bodies };
}

function kinds(d: Decoded): string[] {
  return d.results.map((r) =>
    r.kind === 'request'
      ? `${r.request.command}:${r.request.id}`
      : r.kind === 'invalid'
        ? `invalid:${r.id}`
        : r.kind,
  );
}

/** Splits text into chunks at the given cut points. */
function cut(text: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    out.push(text.subarray(prev, p));
    prev = p;
  }
  out.push(text.subarray(prev));
  return out.filter((c) => c.length > 0);
}

describe('RequestReader', () => {
  it('reads what the go command writes (header, blank line, body string)', async () => {
    const body = Buffer.from('hello, cache');
    const stream =
      `{"ID":1,"Command":"get","ActionID":"${b64(A)}"}\n\n` +
      `{"ID":2,"Command":"put","ActionID":"${b64(A)}","OutputID":"${b64(O)}","BodySize":${body.length}}\n\n` +
      `"${body.toString('base64')}"\n` +
      `{"ID":3,"Command":"put","ActionID":"${b64(A)}","OutputID":"${b64(O)}"}\n\n` +
      `{"ID":4,"Command":"close"}\n\n`;
    const d = await decodeAll([stream]);
    expect(kinds(d)).toEqual(['get:1', 'put:2', 'put:3', 'close:4', 'eof']);
    const get = d.results[0] as Extract<ReadResult, { kind: 'request' }>;
    expect(get.request).toEqual({ id: 1, command: 'get', actionID: A, bodySize: 0 });
    expect(d.bodies.get(2)).toEqual(body);
    const emptyPut = d.results[2] as Extract<ReadResult, { kind: 'request' }>;
    expect(emptyPut.body).toBeNull();
    expect(emptyPut.request.bodySize).toBe(0);
  });

  it('accepts ObjectID, the spelling of Go before 1.24', async () => {
    const d = await decodeAll([
      `{"ID":7,"Command":"put","ActionID":"${b64(A)}","ObjectID":"${b64(O)}","BodySize":1}\n"eA=="\n`,
    ]);
    const r = d.results[0] as Extract<ReadResult, { kind: 'request' }>;
    expect(r.request.outputID).toBe(O);
    expect(d.bodies.get(7)).toEqual(Buffer.from('x'));
  });

  it('takes BodyFile (shim → daemon) instead of a body line', async () => {
    const req: CacheRequest = {
      id: 9,
      command: 'put',
      actionID: A,
      outputID: O,
      bodySize: 10,
      bodyFile: '/t/x',
    };
    const d = await decodeAll([
      encodeRequest(req) + encodeRequest({ id: 10, command: 'close', bodySize: 0 }),
    ]);
    expect(kinds(d)).toEqual(['put:9', 'close:10', 'eof']);
    expect((d.results[0] as Extract<ReadResult, { kind: 'request' }>).request).toEqual(req);
  });

  it('returns control messages', async () => {
    const d = await decodeAll(['{"Control":"ping"}']);
    expect(d.results[0]).toEqual({
      kind: 'control',
      control: 'ping',
      message: { Control: 'ping' },
    });
  });

  it('streams a large body in pieces, without reading ahead of the consumer', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 1);
    const text = Buffer.from(
      encodeRequest(
        { id: 1, command: 'put', actionID: A, outputID: O, bodySize: body.length },
        body,
      ),
    );
    const chunks = cut(
      text,
      Array.from({ length: text.length / 65536 }, (_, i) => i * 65536),
    );
    const src = source(chunks);
    const reader = new RequestReader(src);
    const r = await reader.next();
    expect(r.kind).toBe('request');
    const pulledAtStart = src.pulled;
    expect(pulledAtStart).toBeLessThan(3);
    const parts: Buffer[] = [];
    let pulledAtFirstChunk = -1;
    await (r as Extract<ReadResult, { kind: 'request' }>).body!.pipe((c) => {
      if (pulledAtFirstChunk < 0) pulledAtFirstChunk = src.pulled;
      parts.push(Buffer.from(c));
    });
    expect(pulledAtFirstChunk).toBeLessThan(4);
    expect(parts.length).toBeGreaterThan(10);
    expect(Buffer.concat(parts).equals(body)).toBe(true);
    expect((await reader.next()).kind).toBe('eof');
  });

  it('decodes padded bodies cut at every possible place', async () => {
    for (const body of ['x', 'xy', 'xyz', 'wxyz', 'vwxyz'].map((s) => Buffer.from(s))) {
      const text = Buffer.from(
        encodeRequest(
          { id: 1, command: 'put', actionID: A, outputID: O, bodySize: body.length },
          body,
        ) + encodeRequest({ id: 2, command: 'close', bodySize: 0 }),
      );
      for (let i = 1; i < text.length; i++) {
        for (const j of [i + 1, i + 3]) {
          const d = await decodeAll(cut(text, [i, j]));
          expect(kinds(d)).toEqual(['put:1', 'close:2', 'eof']);
          expect(d.bodies.get(1)).toEqual(body);
        }
      }
    }
  });

  it('skips a body the consumer did not read', async () => {
    const d = await decodeAll(
      [
        encodeRequest(
          { id: 1, command: 'put', actionID: A, outputID: O, bodySize: 3 },
          Buffer.from('abc'),
        ) + encodeRequest({ id: 2, command: 'get', actionID: A, bodySize: 0 }),
      ],
      false,
    );
    expect(kinds(d)).toEqual(['put:1', 'get:2', 'eof']);
  });

  it('keeps reading after a failing sink (the body is still consumed)', async () => {
    const reader = new RequestReader(
      source([
        encodeRequest(
          { id: 1, command: 'put', actionID: A, outputID: O, bodySize: 3 },
          Buffer.from('abc'),
        ) + encodeRequest({ id: 2, command: 'close', bodySize: 0 }),
      ]),
    );
    const r = (await reader.next()) as Extract<ReadResult, { kind: 'request' }>;
    await expect(
      r.body!.pipe(() => {
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    expect((await reader.next()).kind).toBe('request');
  });

  describe('malformed input', () => {
    const put = (id: number, size: number | string) =>
      `{"ID":${id},"Command":"put","ActionID":"${b64(A)}","OutputID":"${b64(O)}","BodySize":${size}}\n`;
    const get = (id: number) => `{"ID":${id},"Command":"get","ActionID":"${b64(A)}"}\n`;

    it.each([
      ['bad JSON', '{"ID":1,"Command":'],
      ['not an object', '[1,2]'],
      ['a bare string', '"abc"'],
      ['no ID', '{"Command":"get"}'],
      ['negative ID', '{"ID":-1,"Command":"get"}'],
      ['huge ID', '{"ID":9223372036854775807,"Command":"get"}'],
      ['non-integer ID', '{"ID":1.5,"Command":"get"}'],
      ['string ID', '{"ID":"1","Command":"get"}'],
    ])('%s: fatal, with a clear error', async (_name, line) => {
      const d = await decodeAll([line + '\n' + get(2)]);
      expect(d.results).toHaveLength(1);
      expect(d.results[0].kind).toBe('fatal');
      expect((d.results[0] as { error: string }).error).toMatch(/request/);
    });

    it('a line longer than the limit is fatal', async () => {
      const reader = new RequestReader(source(['{"ID":1,', 'x'.repeat(2000), 'more']), 1000);
      const r = await reader.next();
      expect(r).toEqual({ kind: 'fatal', error: 'request line longer than 1000 bytes' });
      expect((await reader.next()).kind).toBe('eof');
    });

    it.each([
      ['unknown command', `{"ID":5,"Command":"frob"}\n`, /unknown command "frob"/],
      ['no command', `{"ID":5}\n`, /Command is missing/],
      ['get without ActionID', `{"ID":5,"Command":"get"}\n`, /get without ActionID/],
      ['short ActionID', `{"ID":5,"Command":"get","ActionID":"AAEC"}\n`, /ActionID is 3 bytes/],
      ['ActionID not base64', `{"ID":5,"Command":"get","ActionID":"%%%%"}\n`, /not a base64/],
      [
        'put without OutputID',
        `{"ID":5,"Command":"put","ActionID":"${b64(A)}"}\n`,
        /without OutputID/,
      ],
      ['negative BodySize', put(5, -1), /BodySize is -1/],
      ['fractional BodySize', put(5, 1.5), /BodySize is 1.5/],
      ['BodyFile not a string', `{"ID":5,"Command":"put","BodyFile":3}\n`, /BodyFile is 3/],
    ])('%s: an error answer for that ID, then the next request', async (_n, line, error) => {
      const d = await decodeAll([line + get(6)]);
      expect(kinds(d)).toEqual(['invalid:5', 'get:6', 'eof']);
      expect((d.results[0] as { error: string }).error).toMatch(error);
    });

    it('an unknown command with a body: the body is skipped', async () => {
      const d = await decodeAll([`{"ID":5,"Command":"frob","BodySize":3}\n\n"YWJj"\n` + get(6)]);
      expect(kinds(d)).toEqual(['invalid:5', 'get:6', 'eof']);
    });

    it.each([
      ['shorter than BodySize', put(1, 5) + '"YWJj"\n', /body is 3 bytes, BodySize says 5/],
      ['longer than BodySize', put(1, 2) + '"YWJjZGVm"\n', /longer than BodySize 2/],
      ['not base64', put(1, 3) + '"YW!j"\n', /not valid base64/],
      ['padding in the middle', put(1, 6) + '"YQ==YWJj"\n', /not valid base64/],
      ['unpadded', put(1, 2) + '"YWI"\n', /not valid base64/],
      ['escaped JSON', put(1, 3) + '"YW\\u004aj"\n', /not valid base64/],
      ['text after the string', put(1, 3) + '"YWJj" x\n', /unexpected text/],
      ['missing (next line is a request)', put(1, 3) + '\n', /no body after a put/],
    ])('body %s: BodyError, and the next request still reads', async (_n, text, error) => {
      const d = await decodeAll([text + get(2)]);
      expect(kinds(d)).toEqual(['put:1', 'get:2', 'eof']);
      expect(d.bodies.get(1)).toMatch(error);
    });

    it('input ending inside a body', async () => {
      const d = await decodeAll([put(1, 300) + '"YWJj']);
      expect(kinds(d)).toEqual(['put:1', 'eof']);
      expect(d.bodies.get(1)).toMatch(/input ended inside the body/);
    });

    it('input ending before a body', async () => {
      const d = await decodeAll([put(1, 3)]);
      expect(d.bodies.get(1)).toMatch(/input ended before the body/);
    });

    it('a failing input stream counts as its end', async () => {
      const failing = {
        async *[Symbol.asyncIterator]() {
          yield Buffer.from(get(1));
          throw new Error('EPIPE');
        },
      };
      const reader = new RequestReader(failing);
      expect((await reader.next()).kind).toBe('request');
      expect((await reader.next()).kind).toBe('eof');
    });

    it('never throws or hangs on random bytes or mangled requests', async () => {
      const valid = Buffer.from(
        get(1) +
          encodeRequest(
            { id: 2, command: 'put', actionID: A, outputID: O, bodySize: 40 },
            randomBytes(40),
          ) +
          get(3),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
            fc
              .array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
                maxLength: 6,
              })
              .map((edits) => {
                const b = Buffer.from(valid);
                for (const e of edits) b[e.at % b.length] = e.byte;
                return b;
              }),
            fc.nat(valid.length).map((n) => valid.subarray(0, n)),
          ),
          fc.array(fc.nat(), { maxLength: 8 }),
          async (input, cuts) => {
            const d = await decodeAll(cut(input, cuts));
            const last = d.results[d.results.length - 1];
            expect(['eof', 'fatal']).toContain(last.kind);
            for (const r of d.results) {
              if (r.kind === 'request') expect(Number.isSafeInteger(r.request.id)).toBe(true);
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  it('property: decode(encode(requests)) == requests, however the stream is cut', async () => {
    const hash = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((a) => Buffer.from(a).toString('hex'));
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      { weight: 2, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 70_000 }) },
      { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    );
    const request = fc.oneof(
      fc.record({ command: fc.constant('get' as const), actionID: hash }),
      fc.record({ command: fc.constant('put' as const), actionID: hash, outputID: hash, body }),
      fc.record({ command: fc.constant('close' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (reqs, cuts) => {
          const parts: string[] = [];
          const expected: { req: CacheRequest; body?: Buffer }[] = [];
          reqs.forEach((r, i) => {
            const id = i + 1;
            if (r.command === 'put') {
              const b = Buffer.from(r.body);
              const req = {
                id,
                command: 'put',
                actionID: r.actionID,
                outputID: r.outputID,
                bodySize: b.length,
              };
              parts.push(encodeRequest(req, b));
              expected.push({ req, body: b });
            } else if (r.command === 'get') {
              const req = { id, command: 'get', actionID: r.actionID, bodySize: 0 };
              parts.push(encodeRequest(req));
              expected.push({ req });
            } else {
              const req = { id, command: 'close', bodySize: 0 };
              parts.push(encodeRequest(req));
              expected.push({ req });
            }
          });
          const d = await decodeAll(cut(Buffer.from(parts.join('')), cuts));
          expect(d.results.at(-1)!.kind).toBe('eof');
          const got = d.results.filter((r) => r.kind === 'request');
          expect(got.map((r) => r.request)).toEqual(expected.map((e) => e.req));
          for (const e of expected) {
            if (e.body && e.body.length > 0) expect(d.bodies.get(e.req.id)).toEqual(e.body);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('responses', () => {
  it('handshake', () => {
    expect(handshakeLine()).toBe('{"ID":0,"KnownCommands":["get","put","close"]}\n');
  });

  it('encodes like Go (omitempty, base64 OutputID) and parses back', () => {
    const hit = {
      id: 3,
      outputID: O,
      size: 12,
      time: '2024-05-06T07:08:09.5Z',
      diskPath: '/s/0f/x-d',
    };
    const line = encodeResponse(hit);
    expect(line).toBe(
      `{"ID":3,"OutputID":"${b64(O)}","Size":12,"Time":"2024-05-06T07:08:09.5Z","DiskPath":"/s/0f/x-d"}\n`,
    );
    expect(parseResponse(line)).toEqual(hit);
    expect(encodeResponse({ id: 4, miss: true })).toBe('{"ID":4,"Miss":true}\n');
    expect(encodeResponse({ id: 5, err: 'boom' })).toBe('{"ID":5,"Err":"boom"}\n');
    expect(parseResponse('nope')).toBeNull();
  });

  it('formats time as Go marshals time.Time (RFC 3339, nanoseconds, no trailing zeros)', () => {
    expect(formatGoTime(1_700_000_000_123_456_789n)).toBe('2023-11-14T22:13:20.123456789Z');
    expect(formatGoTime(1_700_000_000_000_000_000n)).toBe('2023-11-14T22:13:20Z');
    expect(formatGoTime(1_700_000_000_120_000_000n)).toBe('2023-11-14T22:13:20.12Z');
    expect(formatGoTime(5n)).toBe('1970-01-01T00:00:00.000000005Z');
  });

  it('LineSplitter joins lines across chunks and drops blank ones', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    for (const c of ['{"a"', ':1}\n\n{"b":2}\n{', '"c":3}', '\n']) s.push(Buffer.from(c));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });
});
