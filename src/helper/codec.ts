// The GOCACHEPROG wire protocol (Go's cmd/go/internal/cacheprog), as the go command speaks it:
//
//   helper → go   {"ID":0,"KnownCommands":["get","put","close"]}            (handshake, first line)
//   go → helper   {"ID":1,"Command":"get","ActionID":"<base64>"}\n\n
//   go → helper   {"ID":2,"Command":"put","ActionID":…,"OutputID":…,"BodySize":5}\n\n"aGVsbG8="\n
//   helper → go   {"ID":2,"DiskPath":"/store/ab/ab…-d"}                       (any order, by ID)
//
// Go's encoder ends each request with a newline and writeToChild adds another one, so blank lines
// are normal. A put with BodySize > 0 is followed by its body as a base64 JSON string; the reader
// here decodes it incrementally, chunk by chunk, so a body of hundreds of MB never sits in memory.
//
// go-cache's own additions (never sent by the go command):
//   - "BodyFile": a put whose body is already in a file (the shim → the daemon); no body line.
//   - {"Control":"ping"|"report"|"stop"}: a control message (the action → the daemon).

/** Size of an ActionID or OutputID in bytes (Go's cache.HashSize). */
export const HASH_SIZE = 32;
export const KNOWN_COMMANDS = ['get', 'put', 'close'] as const;
/** A request line longer than this cannot be from the go command (its lines are ~250 bytes). */
export const MAX_LINE_BYTES = 1 << 20;

/** A request from the go command, IDs as lowercase hex. */
export interface CacheRequest {
  id: number;
  command: string;
  actionID?: string;
  outputID?: string;
  bodySize: number;
  /** go-cache extension: the body is already in this file (shim → daemon). */
  bodyFile?: string;
}

/** A response to the go command, IDs as lowercase hex; `time` is RFC 3339 (see formatGoTime). */
export interface CacheResponse {
  id: number;
  err?: string;
  knownCommands?: readonly string[];
  miss?: boolean;
  outputID?: string;
  size?: number;
  time?: string;
  diskPath?: string;
}

/** Decoded body bytes go to a sink; the reader waits for each call (backpressure). */
export type BodySink = (chunk: Buffer) => void | Promise<void>;

export interface BodyReader {
  readonly size: number;
  /**
   * Streams the decoded body into sink. Rejects with a BodyError when the body is malformed (the
   * reader is then positioned after it, or at its end of input), or with the sink's own error once
   * the rest of the body has been skipped. Call at most once, before the reader's next().
   */
  pipe(sink: BodySink): Promise<void>;
}

export type ReadResult =
  | { kind: 'request'; request: CacheRequest; body: BodyReader | null }
  /** The request's ID is known but the request is wrong: answer it with Err and keep reading. */
  | { kind: 'invalid'; id: number; error: string }
  | { kind: 'control'; control: string; message: Record<string, unknown> }
  /** The stream cannot be understood any further: report the error and close. */
  | { kind: 'fatal'; error: string }
  | { kind: 'eof' };

export class BodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyError';
  }
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const BASE64_BAD_CHAR = /[^A-Za-z0-9+/]/;
const BASE64_LAST_QUAD = /^(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$/;
const BASE64_STRING = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === NEWLINE;
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) if (!isSpace(byte)) return false;
  return true;
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/** A Go []byte field in JSON (base64 or null) → hex; undefined when absent; Error when malformed. */
function hashField(value: unknown, name: string): string | undefined | Error {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !BASE64_STRING.test(value)) {
    return new Error(`${name} is not a base64 string: ${describe(value)}`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== HASH_SIZE) {
    return new Error(`${name} is ${bytes.length} bytes, want ${HASH_SIZE}`);
  }
  return bytes.toString('hex');
}

/**
 * Reads requests from a byte stream (the go command's stdin, or a socket). Pull-based: each next()
 * reads only as much input as it needs, so a slow consumer slows the producer down.
 */
export class RequestReader {
  private readonly input: AsyncIterator<Buffer | string>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;
  private finished = false;
  private body: Body | null = null;

  constructor(
    source: AsyncIterable<Buffer | string>,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.input = source[Symbol.asyncIterator]();
  }

  async next(): Promise<ReadResult> {
    if (this.body) {
      const body = this.body;
      this.body = null;
      await body.skip();
    }
    if (this.finished) return { kind: 'eof' };
    for (;;) {
      const line = await this.readLine();
      if (line === null) return this.finish({ kind: 'eof' });
      if (line === 'too-long') {
        return this.finish({
          kind: 'fatal',
          error: `request line longer than ${this.maxLineBytes} bytes`,
        });
      }
      if (isBlank(line)) continue;
      return this.parse(line);
    }
  }

  private finish<T extends ReadResult>(result: T): T {
    this.finished = true;
    return result;
  }

  private async parse(line: Buffer): Promise<ReadResult> {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch (e) {
      const text = line.subarray(0, 80).toString('utf8');
      return this.finish({
        kind: 'fatal',
        error: `request is not valid JSON (${(e as Error).message}): ${JSON.stringify(text)}`,
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.finish({
        kind: 'fatal',
        error: `request is not a JSON object: ${describe(value)}`,
      });
    }
    const msg = value as Record<string, unknown>;
    if (typeof msg.Control === 'string') {
      return { kind: 'control', control: msg.Control, message: msg };
    }
    const id = msg.ID;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      return this.finish({
        kind: 'fatal',
        error: `request ID is ${describe(id)}, want a non-negative integer`,
      });
    }
    const bodySize = msg.BodySize ?? 0;
    const bodyFile = msg.BodyFile;
    if (typeof bodySize !== 'number' || !Number.isSafeInteger(bodySize) || bodySize < 0) {
      await this.skipStrayBody();
      return { kind: 'invalid', id, error: `BodySize is ${describe(bodySize)}` };
    }
    if (bodyFile !== undefined && (typeof bodyFile !== 'string' || bodyFile === '')) {
      await this.skipStrayBody();
      return { kind: 'invalid', id, error: `BodyFile is ${describe(bodyFile)}` };
    }
    const hasBodyLine = bodySize > 0 && bodyFile === undefined;
    const invalid = async (error: string): Promise<ReadResult> => {
      if (hasBodyLine) await this.skipStrayBody();
      return { kind: 'invalid', id, error };
    };

    const command = msg.Command;
    if (typeof command !== 'string') return invalid(`Command is ${describe(command)}`);
    if (!(KNOWN_COMMANDS as readonly string[]).includes(command)) {
      return invalid(`unknown command ${JSON.stringify(command)}`);
    }
    const actionID = hashField(msg.ActionID, 'ActionID');
    if (actionID instanceof Error) return invalid(actionID.message);
    // Go 1.21–1.23 (GOEXPERIMENT=cacheprog) spelled OutputID "ObjectID".
    const outputID = hashField(msg.OutputID ?? msg.ObjectID, 'OutputID');
    if (outputID instanceof Error) return invalid(outputID.message);

    const request: CacheRequest = { id, command, bodySize };
    if (command === 'get' || command === 'put') {
      if (actionID === undefined) return invalid(`${command} without ActionID`);
      request.actionID = actionID;
    }
    if (command === 'put') {
      if (outputID === undefined) return invalid('put without OutputID');
      request.outputID = outputID;
      if (typeof bodyFile === 'string') request.bodyFile = bodyFile;
    } else if (bodySize > 0) {
      // Only puts carry a body; tolerate (and drop) a stray one.
      await this.skipStrayBody();
      request.bodySize = 0;
    }
    let body: Body | null = null;
    if (hasBodyLine && command === 'put') {
      body = new Body(this, bodySize);
      this.body = body;
    }
    return { kind: 'request', request, body };
  }

  // ---- byte-level input ----

  /** Pulls one more chunk; false at end of input (a failing stream counts as ended). */
  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    let r: IteratorResult<Buffer | string>;
    try {
      r = await this.input.next();
    } catch {
      r = { done: true, value: undefined };
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    if (this.pos >= this.buf.length) this.buf = chunk;
    else this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    return true;
  }

  /** The next line without its newline; a last line without a newline counts too. */
  private async readLine(): Promise<Buffer | null | 'too-long'> {
    let from = this.pos;
    for (;;) {
      const nl = this.buf.indexOf(NEWLINE, from);
      if (nl >= 0) {
        const line = this.buf.subarray(this.pos, nl);
        this.pos = nl + 1;
        return line;
      }
      const have = this.buf.length - this.pos;
      if (have > this.maxLineBytes) return 'too-long';
      if (!(await this.fill())) {
        if (this.pos >= this.buf.length) return null;
        const line = this.buf.subarray(this.pos);
        this.pos = this.buf.length;
        return line;
      }
      from = this.pos + have;
    }
  }

  /** Skips whitespace; false at end of input. */
  private async skipSpace(): Promise<boolean> {
    for (;;) {
      while (this.pos < this.buf.length && isSpace(this.buf[this.pos])) this.pos++;
      if (this.pos < this.buf.length) return true;
      if (!(await this.fill())) return false;
    }
  }

  /** Discards input up to and including the next newline, holding at most one chunk. */
  private async skipLine(): Promise<void> {
    for (;;) {
      const nl = this.buf.indexOf(NEWLINE, this.pos);
      if (nl >= 0) {
        this.pos = nl + 1;
        return;
      }
      this.pos = this.buf.length;
      if (!(await this.fill())) return;
    }
  }

  /** A body line after a request that should not have one (or an invalid put): skip it. */
  private async skipStrayBody(): Promise<void> {
    if ((await this.skipSpace()) && this.buf[this.pos] === QUOTE) await this.skipLine();
  }

  /** Decodes a body string of `size` bytes into sink (null: discard). Throws BodyError. */
  async readBody(size: number, sink: BodySink | null): Promise<void> {
    if (!(await this.skipSpace())) {
      throw new BodyError(`input ended before the body (${size} bytes)`);
    }
    if (this.buf[this.pos] !== QUOTE) {
      // Leave that line alone: it is most likely the next request.
      throw new BodyError(`no body after a put with BodySize ${size}`);
    }
    this.pos++;
    let carry = '';
    let got = 0;
    let sinkError: unknown = null;
    const fail = async (message: string): Promise<never> => {
      await this.skipLine();
      throw new BodyError(message);
    };
    for (;;) {
      if (this.pos >= this.buf.length && !(await this.fill())) {
        throw new BodyError(`input ended inside the body (${got} of ${size} bytes)`);
      }
      const quote = this.buf.indexOf(QUOTE, this.pos);
      const end = quote >= 0 ? quote : this.buf.length;
      const text = carry + this.buf.toString('latin1', this.pos, end);
      this.pos = quote >= 0 ? quote + 1 : end;
      let decoded: Buffer;
      if (quote >= 0) {
        if (text.length % 4 !== 0) return fail('body is not valid base64 (length)');
        const head = text.slice(0, -4);
        const tail = text.slice(-4);
        if (BASE64_BAD_CHAR.test(head) || (tail !== '' && !BASE64_LAST_QUAD.test(tail))) {
          return fail('body is not valid base64');
        }
        decoded = Buffer.from(text, 'base64');
        carry = '';
      } else {
        // Hold back the last (possibly padded) quad until the closing quote shows it is the last.
        const keep = text.length % 4 || Math.min(4, text.length);
        const part = text.slice(0, text.length - keep);
        if (BASE64_BAD_CHAR.test(part)) return fail('body is not valid base64');
        decoded = Buffer.from(part, 'base64');
        carry = text.slice(text.length - keep);
      }
      got += decoded.length;
      if (got > size) return fail(`body is longer than BodySize ${size}`);
      if (sink && sinkError === null && decoded.length > 0) {
        try {
          await sink(decoded);
        } catch (e) {
          sinkError = e ?? new Error('body sink failed');
        }
      }
      if (quote >= 0) {
        // The rest of the line must be empty.
        while (this.pos < this.buf.length && this.buf[this.pos] !== NEWLINE) {
          if (!isSpace(this.buf[this.pos])) return fail('unexpected text after the body');
          this.pos++;
        }
        if (this.pos < this.buf.length) this.pos++;
        if (got !== size) throw new BodyError(`body is ${got} bytes, BodySize says ${size}`);
        if (sinkError !== null) throw sinkError;
        return;
      }
    }
  }
}

class Body implements BodyReader {
  private started = false;

  constructor(
    private readonly reader: RequestReader,
    readonly size: number,
  ) {}

  pipe(sink: BodySink): Promise<void> {
    if (this.started) return Promise.reject(new Error('body already read'));
    this.started = true;
    return this.reader.readBody(this.size, sink);
  }

  /** Called by the reader when the consumer moved on without reading the body. */
  async skip(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.reader.readBody(this.size, null).catch(() => undefined);
  }
}

// ---- writing ----

const HANDSHAKE = JSON.stringify({ ID: 0, KnownCommands: KNOWN_COMMANDS }) + '\n';

/** The first line a helper writes; `extra` fields are ignored by the go command. */
export function handshakeLine(extra?: Record<string, unknown>): string {
  if (!extra) return HANDSHAKE;
  return JSON.stringify({ ID: 0, KnownCommands: KNOWN_COMMANDS, ...extra }) + '\n';
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** One JSON line, Go's field names, empty fields left out as Go's omitempty does. */
export function encodeResponse(r: CacheResponse): string {
  const o: Record<string, unknown> = { ID: r.id };
  if (r.err) o.Err = r.err;
  if (r.knownCommands) o.KnownCommands = r.knownCommands;
  if (r.miss) o.Miss = true;
  if (r.outputID) o.OutputID = hexToBase64(r.outputID);
  if (r.size) o.Size = r.size;
  if (r.time) o.Time = r.time;
  if (r.diskPath) o.DiskPath = r.diskPath;
  return JSON.stringify(o) + '\n';
}

/**
 * A request as the go command writes it (header, blank line, body string). `body` only for puts
 * without bodyFile; it may be omitted to write just the header (the caller streams the body).
 */
export function encodeRequest(req: CacheRequest, body?: Buffer): string {
  const o: Record<string, unknown> = { ID: req.id, Command: req.command };
  if (req.actionID) o.ActionID = hexToBase64(req.actionID);
  if (req.outputID) o.OutputID = hexToBase64(req.outputID);
  if (req.bodySize) o.BodySize = req.bodySize;
  if (req.bodyFile) o.BodyFile = req.bodyFile;
  let text = JSON.stringify(o) + '\n\n';
  if (body && body.length > 0) text += '"' + body.toString('base64') + '"\n';
  return text;
}

/** Parses one response line (as the go command would); null when it is not a response. */
export function parseResponse(line: string): CacheResponse | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.ID !== 'number' || !Number.isSafeInteger(o.ID)) return null;
  const r: CacheResponse = { id: o.ID };
  if (typeof o.Err === 'string' && o.Err) r.err = o.Err;
  if (Array.isArray(o.KnownCommands)) r.knownCommands = o.KnownCommands.map(String);
  if (o.Miss === true) r.miss = true;
  if (typeof o.OutputID === 'string')
    r.outputID = Buffer.from(o.OutputID, 'base64').toString('hex');
  if (typeof o.Size === 'number') r.size = o.Size;
  if (typeof o.Time === 'string') r.time = o.Time;
  if (typeof o.DiskPath === 'string') r.diskPath = o.DiskPath;
  return r;
}

/**
 * Unix nanoseconds → Go's time.Time JSON (RFC 3339 with up to nine fraction digits, UTC), which
 * is what the go command decodes Response.Time from.
 */
export function formatGoTime(unixNano: bigint): string {
  const seconds = unixNano / 1_000_000_000n;
  const nanos = Number(unixNano % 1_000_000_000n);
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const fraction = nanos === 0 ? '' : '.' + String(nanos).padStart(9, '0').replace(/0+$/, '');
  return iso.slice(0, 19) + fraction + 'Z';
}

/** Splits a byte stream into lines (without the newline), for the response side. */
export class LineSplitter {
  private pending: Buffer[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      let line = chunk.subarray(start, nl);
      if (this.pending.length > 0) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
      }
      start = nl + 1;
      if (!isBlank(line)) this.onLine(line.toString('utf8'));
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }
}
