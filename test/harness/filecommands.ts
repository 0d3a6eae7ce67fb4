// Parsing of what a step tells the runner: the environment files (GITHUB_ENV, GITHUB_OUTPUT,
// GITHUB_STATE, GITHUB_PATH, GITHUB_STEP_SUMMARY) and the workflow commands it prints (`::name::data`).
//
// Modelled on actions/runner: src/Runner.Worker/FileCommandManager.cs (EnvFileKeyValuePairs,
// AddPathFileCommand, CreateStepSummaryCommand), src/Runner.Common/ActionCommand.cs (TryParseV2,
// TryParse) and src/Runner.Worker/ActionCommandManager.cs (the command extensions). Messages are the
// runner's own, so a test can match what a user would see in a real log.

/** A file command or workflow command that the runner would reject; fails the step. */
export class FileCommandError extends Error {}

/** The file-command files the runner creates for each step, by runner file prefix. */
export const FILE_COMMANDS = [
  { context: 'path', env: 'GITHUB_PATH', prefix: 'add_path_' },
  { context: 'env', env: 'GITHUB_ENV', prefix: 'set_env_' },
  { context: 'step_summary', env: 'GITHUB_STEP_SUMMARY', prefix: 'step_summary_' },
  { context: 'state', env: 'GITHUB_STATE', prefix: 'save_state_' },
  { context: 'output', env: 'GITHUB_OUTPUT', prefix: 'set_output_' },
] as const;

export type FileCommandContext = (typeof FILE_COMMANDS)[number]['context'];

/** Largest step summary the runner accepts (CreateStepSummaryCommand.AttachmentSizeLimit). */
export const STEP_SUMMARY_LIMIT = 1024 * 1024;

/** Names GITHUB_ENV may not set (SetEnvFileCommand._setEnvBlockList). */
export const SET_ENV_BLOCK_LIST = ['NODE_OPTIONS'];

export interface ParseOptions {
  /**
   * Treat CRLF as one line break. The runner does this only when built for Windows (`#if OS_WINDOWS`);
   * elsewhere a `\r` stays part of the value and a `EOF\r` line does not close a heredoc.
   * Default: process.platform === 'win32'.
   */
  crlf?: boolean;
}

function readLine(
  text: string,
  index: number,
  crlf: boolean,
): { line: string; next: number; newline: string | null } | null {
  if (index >= text.length) return null;
  const lf = text.indexOf('\n', index);
  if (lf < 0) return { line: text.slice(index), next: text.length, newline: null };
  if (crlf) {
    const crlfIndex = text.indexOf('\r\n', index);
    if (crlfIndex >= 0 && crlfIndex < lf) {
      return { line: text.slice(index, crlfIndex), next: crlfIndex + 2, newline: '\r\n' };
    }
  }
  return { line: text.slice(index, lf), next: lf + 1, newline: '\n' };
}

/**
 * The `NAME=value` / `NAME<<DELIM` format of GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STATE, yielding pairs
 * in file order and throwing (FileCommandError) at the first malformed entry, after the earlier pairs
 * have been yielded, exactly as the runner's enumerator does.
 */
export function* iterKeyValueFile(
  text: string,
  opts: ParseOptions = {},
): Generator<[string, string], void, void> {
  const crlf = opts.crlf ?? process.platform === 'win32';
  let index = 0;
  let r = readLine(text, index, crlf);
  while (r !== null) {
    index = r.next;
    const line = r.line;
    if (line !== '') {
      const equalsIndex = line.indexOf('=');
      const heredocIndex = line.indexOf('<<');
      if (equalsIndex >= 0 && (heredocIndex < 0 || equalsIndex < heredocIndex)) {
        // NAME=VALUE. (The runner's "name must not be empty" check tests the whole line, so `=x`
        // is accepted with an empty name; we keep that.)
        yield [line.slice(0, equalsIndex), line.slice(equalsIndex + 1)];
      } else if (heredocIndex >= 0 && (equalsIndex < 0 || heredocIndex < equalsIndex)) {
        const name = line.slice(0, heredocIndex);
        const delimiter = line.slice(heredocIndex + 2);
        if (name === '' || delimiter === '') {
          throw new FileCommandError(
            `Invalid format '${line}'. Name must not be empty and delimiter must not be empty`,
          );
        }
        const startIndex = index;
        let endIndex = index;
        let t = readLine(text, index, crlf);
        while (t === null || t.line !== delimiter) {
          if (t === null) {
            throw new FileCommandError(
              `Invalid value. Matching delimiter not found '${delimiter}'`,
            );
          }
          if (t.newline === null) {
            throw new FileCommandError('Invalid value. EOF marker missing new line.');
          }
          index = t.next;
          endIndex = index - t.newline.length;
          t = readLine(text, index, crlf);
        }
        index = t.next;
        yield [name, endIndex > startIndex ? text.slice(startIndex, endIndex) : ''];
      } else {
        throw new FileCommandError(`Invalid format '${line}'`);
      }
    }
    r = readLine(text, index, crlf);
  }
}

/** All pairs of a GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE file; throws FileCommandError. */
export function parseKeyValueFile(text: string, opts: ParseOptions = {}): Array<[string, string]> {
  return Array.from(iterKeyValueFile(text, opts));
}

/** .NET File.ReadAllLines: splits on CRLF, LF or CR on every platform. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r\n|\r|\n/);
  if (/[\r\n]$/.test(text)) lines.pop();
  return lines;
}

/** GITHUB_PATH: one directory per line, empty lines ignored, in file order. */
export function parseAddPath(text: string): string[] {
  return splitLines(text).filter((l) => l !== '');
}

/**
 * The runner's PrependPath list after adding `added` (a later duplicate moves to the end), and PATH
 * as a step sees it: the list reversed (last added first), then the base PATH.
 */
export function addToPrependPath(list: string[], added: string[]): string[] {
  let out = list.slice();
  for (const p of added) {
    out = out.filter((x) => x !== p);
    out.push(p);
  }
  return out;
}

export function composePath(prepend: string[], basePath: string, delimiter: string): string {
  const front = prepend.slice().reverse().join(delimiter);
  if (front === '') return basePath;
  return basePath === '' ? front : front + delimiter + basePath;
}

// ---------------------------------------------------------------------------------------------------
// Workflow commands

export interface WorkflowCommand {
  command: string; // lower-cased
  properties: Record<string, string>;
  data: string;
}

function unescapeWith(s: string, pairs: Array<[string, string]>): string {
  let out = s;
  for (const [from, to] of pairs) out = out.split(from).join(to);
  return out;
}

// Order matters (the runner replaces in array order, %25 last).
const DATA_UNESCAPES: Array<[string, string]> = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%25', '%'],
];
const PROPERTY_UNESCAPES: Array<[string, string]> = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%3A', ':'],
  ['%2C', ','],
  ['%25', '%'],
];
const LEGACY_UNESCAPES: Array<[string, string]> = [
  ['%3B', ';'],
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%5D', ']'],
  ['%25', '%'],
];

/** Escaping as @actions/core does it, for tests and fixtures. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** Commands the runner registers (ActionCommandManager + its extensions). */
export const REGISTERED_COMMANDS = [
  'stop-commands',
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
];

/**
 * ActionCommand.TryParseV2 (`::cmd k=v,k2=v2::data`, after leading whitespace) and, failing that,
 * ActionCommand.TryParse (legacy `##[cmd k=v;]data` anywhere in the line). `registered` holds
 * lower-cased names; matching is case-insensitive as in the runner.
 */
export function parseWorkflowCommand(
  line: string,
  registered: ReadonlySet<string> = new Set(REGISTERED_COMMANDS),
): WorkflowCommand | null {
  return parseV2(line, registered) ?? parseLegacy(line, registered);
}

function parseV2(line: string, registered: ReadonlySet<string>): WorkflowCommand | null {
  if (!line) return null;
  const message = line.trimStart();
  if (!message.startsWith('::')) return null;
  const endIndex = message.indexOf('::', 2);
  if (endIndex < 0) return null;
  const cmdInfo = message.slice(2, endIndex);
  const space = cmdInfo.indexOf(' ');
  const name = space < 0 ? cmdInfo : cmdInfo.slice(0, space);
  if (!name || !registered.has(name.toLowerCase())) return null;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const prop of cmdInfo
      .slice(space + 1)
      .trim()
      .split(',')
      .filter((p) => p !== '')) {
      const eq = prop.indexOf('=');
      // .NET Split('=', 2, RemoveEmptyEntries): both sides must be non-empty.
      if (eq <= 0) continue;
      const value = prop.slice(eq + 1);
      if (value === '') continue;
      properties[prop.slice(0, eq)] = unescapeWith(value, PROPERTY_UNESCAPES);
    }
  }
  return {
    command: name.toLowerCase(),
    properties,
    data: unescapeWith(message.slice(endIndex + 2), DATA_UNESCAPES),
  };
}

function parseLegacy(line: string, registered: ReadonlySet<string>): WorkflowCommand | null {
  if (!line) return null;
  const prefixIndex = line.indexOf('##[');
  if (prefixIndex < 0) return null;
  const rb = line.indexOf(']', prefixIndex);
  if (rb < 0) return null;
  const cmdInfo = line.slice(prefixIndex + 3, rb);
  const space = cmdInfo.indexOf(' ');
  const name = space < 0 ? cmdInfo : cmdInfo.slice(0, space);
  if (!name || !registered.has(name.toLowerCase())) return null;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const prop of cmdInfo
      .slice(space + 1)
      .split(';')
      .filter((p) => p !== '')) {
      const eq = prop.indexOf('=');
      if (eq <= 0 || eq === prop.length - 1) continue;
      properties[prop.slice(0, eq)] = unescapeWith(prop.slice(eq + 1), LEGACY_UNESCAPES);
    }
  }
  return {
    command: name.toLowerCase(),
    properties,
    data: unescapeWith(line.slice(rb + 1), LEGACY_UNESCAPES),
  };
}

/** Case-insensitive property lookup (the runner's Properties dictionary ignores case). */
export function getProperty(props: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(props)) if (k.toLowerCase() === want) return v;
  return undefined;
}

export type AnnotationLevel = 'error' | 'warning' | 'notice' | 'debug';

export interface Annotation {
  level: AnnotationLevel;
  message: string;
  /** file, line, endLine, col, endColumn, title, as given to the command (absent for runner errors). */
  properties?: Record<string, string>;
}

export const SET_OUTPUT_DEPRECATED = (cmd: string): string =>
  `The \`${cmd}\` command is deprecated and will be disabled soon. Please upgrade to using ` +
  'Environment Files. For more information see: ' +
  'https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/';

export const UNSECURE_COMMAND_DISABLED = (cmd: string): string =>
  `The ${cmd} command is disabled. Please upgrade to using Environment Files or opt into unsecure ` +
  'command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to ' +
  '`true`. For more information see: ' +
  'https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/';

/** Masks every registered secret in a line, longest first, as `***`. */
export function maskSecrets(line: string, secrets: Iterable<string>): string {
  let out = line;
  const sorted = Array.from(secrets).sort((a, b) => b.length - a.length);
  for (const s of sorted) if (s) out = out.split(s).join('***');
  return out;
}

export interface CommandSink {
  /** A line for the step's log (already rendered like the runner renders it; not yet masked). */
  log(line: string): void;
  annotate(a: Annotation): void;
  setOutput(name: string, value: string): void;
  saveState(name: string, value: string): void;
  addMask(secret: string): void;
  /** Only reached when ACTIONS_ALLOW_UNSECURE_COMMANDS=true. */
  setEnv(name: string, value: string): void;
  addPath(dir: string): void;
  /** The command could not be processed: the runner marks the step failed. */
  fail(): void;
}

/**
 * ActionCommandManager for one step: one instance per step (stop-commands and echo state are
 * per step in the runner), fed every line of stdout and stderr.
 */
export class CommandProcessor {
  private registered = new Set(REGISTERED_COMMANDS);
  private stopToken: string | null = null;
  private echo = false;

  constructor(
    private readonly sink: CommandSink,
    private readonly opts: { allowUnsecureCommands?: boolean; debug?: boolean } = {},
  ) {}

  /** Handles one output line; returns true when the line was a command (and so not logged as is). */
  processLine(line: string): boolean {
    const cmd = parseWorkflowCommand(line, this.registered);
    if (!cmd) {
      this.sink.log(line);
      return false;
    }
    if (this.stopToken !== null) {
      if (cmd.command === this.stopToken.toLowerCase()) {
        this.sink.log(line);
        if (!REGISTERED_COMMANDS.includes(cmd.command)) this.registered.delete(cmd.command);
        this.stopToken = null;
        return true;
      }
      // Not processed: the runner logs the line as ordinary output.
      this.sink.log(line);
      return false;
    }
    if (cmd.command === 'stop-commands') {
      this.sink.log(line);
      this.stopToken = cmd.data;
      if (cmd.data) this.registered.add(cmd.data.toLowerCase());
      return true;
    }
    const omitEcho = ['add-mask', 'debug', 'warning', 'error', 'notice'].includes(cmd.command);
    if (this.echo && !omitEcho) this.sink.log(line);
    try {
      this.run(cmd);
    } catch (e) {
      const info = omitEcho ? cmd.command : line;
      this.sink.annotate({
        level: 'error',
        message: `Unable to process command '${info}' successfully.`,
      });
      this.sink.annotate({ level: 'error', message: (e as Error).message });
      this.sink.fail();
    }
    return true;
  }

  private requireName(cmd: WorkflowCommand): string {
    const name = getProperty(cmd.properties, 'name');
    if (!name)
      throw new FileCommandError(`Required field 'name' is missing in ##[${cmd.command}] command.`);
    return name;
  }

  private run(cmd: WorkflowCommand): void {
    const s = this.sink;
    switch (cmd.command) {
      case 'set-output':
      case 'save-state': {
        s.annotate({ level: 'warning', message: SET_OUTPUT_DEPRECATED(cmd.command) });
        const name = this.requireName(cmd);
        if (cmd.command === 'set-output') s.setOutput(name, cmd.data);
        else s.saveState(name, cmd.data);
        return;
      }
      case 'set-env':
      case 'add-path': {
        if (!this.opts.allowUnsecureCommands)
          throw new FileCommandError(UNSECURE_COMMAND_DISABLED(cmd.command));
        if (cmd.command === 'add-path') {
          if (!cmd.data) throw new FileCommandError("Parameter 'path' cannot be null or empty.");
          s.addPath(cmd.data);
          return;
        }
        const name = this.requireName(cmd);
        if (SET_ENV_BLOCK_LIST.some((b) => b.toLowerCase() === name.toLowerCase())) {
          s.annotate({
            level: 'error',
            message: `Can't update ${name} environment variable using ::set-env:: command.`,
          });
          return;
        }
        s.setEnv(name, cmd.data);
        return;
      }
      case 'add-mask':
        if (cmd.data.trim() === '') {
          s.annotate({
            level: 'warning',
            message: "Can't add secret mask for empty string in ##[add-mask] command.",
          });
        } else {
          if (this.echo) s.log('::add-mask::***');
          s.addMask(cmd.data);
        }
        return;
      case 'debug':
        s.annotate({ level: 'debug', message: cmd.data });
        if (this.opts.debug) s.log(`##[debug]${cmd.data}`);
        return;
      case 'warning':
      case 'error':
      case 'notice': {
        const a: Annotation = { level: cmd.command, message: cmd.data };
        if (Object.keys(cmd.properties).length > 0) a.properties = { ...cmd.properties };
        s.annotate(a);
        s.log(`##[${cmd.command}]${cmd.data}`);
        return;
      }
      case 'group':
        s.log(`##[group]${cmd.data}`);
        return;
      case 'endgroup':
        s.log('##[endgroup]');
        return;
      case 'echo': {
        const v = cmd.data.trim().toUpperCase();
        if (v === 'ON') this.echo = true;
        else if (v === 'OFF') this.echo = false;
        else {
          throw new FileCommandError(
            `Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${cmd.data}'.`,
          );
        }
        return;
      }
      case 'add-matcher':
      case 'remove-matcher':
        // Problem matchers are not emulated; the command is consumed like the runner consumes it.
        return;
      default:
        s.annotate({
          level: 'warning',
          message: `Can't find command extension for ##[${cmd.command}.command].`,
        });
    }
  }
}
