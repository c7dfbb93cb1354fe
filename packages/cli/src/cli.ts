import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { API_KEY_PATTERN, JOB_STATES, type JobEvent, TERMINAL_STATES } from '@trainyard/core';
import { ApiClient, ApiError, ConnectionError, parseEvent } from './client.js';
import { formatEvent, formatOutcome, jobsTable, workersTable } from './format.js';

/**
 * `trainyard`: the command line of the api (docs/cli.md). `run(argv, io)` does all the
 * work and returns the exit code, so that tests can call it without a process:
 * 0 ok (a followed job SUCCEEDED), 1 an error (the api's, an unreachable api, a bad spec
 * file), 2 a usage error, 3 a followed job FAILED, 4 a followed job was CANCELLED.
 */

export const EXIT = Object.freeze({ OK: 0, ERROR: 1, USAGE: 2, JOB_FAILED: 3, JOB_CANCELLED: 4 });

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Read by `submit -`. */
  readonly stdin: AsyncIterable<string | Uint8Array>;
  /** Relative spec paths resolve against it (default `process.cwd()`). */
  readonly cwd?: string;
  readonly fetch?: typeof fetch;
  /** Pause between reconnects of an event stream (default 2000 ms, the api's `retry:`). */
  readonly reconnectDelayMs?: number;
  /** An event stream silent this long is dropped and resumed (default 45 s: 3 of the api's pings). */
  readonly streamIdleMs?: number;
}

/** A bad command line: exit 2 with the usage text. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** A local problem with the input (a spec file that is missing or not JSON): exit 1. */
class InputError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

const GLOBAL_OPTIONS = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const GLOBAL_HELP = `Options (any command):
  --api-url URL   the api (env TRAINYARD_API_URL; default ${DEFAULT_API_URL})
  --api-key KEY   API key, sent as Authorization: Bearer KEY (env TRAINYARD_API_KEY;
                  prefer the variable: command lines are visible to other users)
  -h, --help      this help`;

interface Context {
  readonly io: CliIo;
  readonly client: ApiClient;
  readonly values: Record<string, string | boolean | undefined>;
  readonly args: readonly string[];
  /** The command's usage text, for a UsageError. */
  readonly usage: string;
}

interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Full command line of its usage. */
  readonly synopsis: string;
  /** Short form for the list of commands. */
  readonly brief: string;
  readonly summary: string;
  readonly help: string;
  readonly options: Options;
  /** Positional arguments: exactly these names (`[name]` is optional). */
  readonly positionals: readonly string[];
  run(ctx: Context): Promise<number>;
}

const write = (stream: { write(text: string): unknown }, text: string) => stream.write(`${text}\n`);

async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

async function readSpec(arg: string, io: CliIo): Promise<unknown> {
  let text: string;
  const name = arg === '-' ? 'standard input' : arg;
  if (arg === '-') {
    text = await readAll(io.stdin);
  } else {
    try {
      text = await readFile(resolve(io.cwd ?? process.cwd(), arg), 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new InputError(
        `cannot read the spec ${arg}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`,
      );
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`the spec in ${name} is not valid JSON: ${(err as Error).message}`);
  }
}

const exitFor = (state: string): number =>
  state === 'SUCCEEDED' ? EXIT.OK : state === 'CANCELLED' ? EXIT.JOB_CANCELLED : EXIT.JOB_FAILED;

const MAX_RECONNECTS = 10;

/**
 * Follows a job's events from the start until a terminal state, reconnecting with the last
 * event id when the stream ends early or breaks (the api restarting, a proxy timing out,
 * a 5xx or 429 answer).
 * A job that is already over when the stream ends without a terminal event (events trimmed)
 * ends the follow with its state. The first connection failing is an error at once.
 */
export async function follow(
  client: ApiClient,
  id: string,
  onEvent: (event: JobEvent) => void,
  reconnectDelayMs = 2_000,
): Promise<string> {
  let afterId: string | undefined;
  let connected = false;
  let failures = 0;
  for (;;) {
    try {
      for await (const message of client.events(id, afterId === undefined ? {} : { afterId })) {
        connected = true;
        failures = 0;
        if (message.id !== null) afterId = message.id;
        const event = parseEvent(message);
        onEvent(event);
        if (event.type === 'state' && TERMINAL_STATES.includes(event.state)) return event.state;
      }
      connected = true;
      // The stream ended without a terminal event: has the job ended anyway?
      const job = await client.get(id);
      if (TERMINAL_STATES.includes(job.state)) return job.state;
    } catch (err) {
      // Once the stream has worked, an api that is briefly away (restarting, a proxy's 502/503
      // during a rollout, Redis restarting: 503) is waited for; a 4xx is a real answer.
      const transient =
        err instanceof ConnectionError ||
        (err instanceof ApiError && (err.status >= 500 || err.status === 429));
      if (!transient || !connected || ++failures > MAX_RECONNECTS) throw err;
    }
    await new Promise((r) => setTimeout(r, reconnectDelayMs));
  }
}

/** Follows a job, printing each event to `out`, then its outcome; returns the exit code. */
async function followAndReport(
  ctx: Context,
  id: string,
  out: { write(text: string): unknown },
  json: boolean,
): Promise<number> {
  const state = await follow(
    ctx.client,
    id,
    (event) => write(out, json ? JSON.stringify(event) : formatEvent(event)),
    ctx.io.reconnectDelayMs,
  );
  if (!json) {
    try {
      write(out, formatOutcome(await ctx.client.get(id)));
    } catch (err) {
      write(
        ctx.io.stderr,
        `trainyard: the job ended ${state}, but its record could not be read: ${(err as Error).message}`,
      );
    }
  }
  return exitFor(state);
}

const COMMANDS: readonly Command[] = [
  {
    name: 'submit',
    brief: 'submit <spec.json|->',
    synopsis: 'submit [--wait] [--idempotency-key KEY] [--json] <spec.json|->',
    summary: 'submit a job (a JobSpec as JSON, from a file or - for stdin); prints its id',
    help: `Submits a job. The spec is a JobSpec as JSON (docs/api.md), read from a file or, with -,
from standard input. Prints the new job's id on stdout.

Options:
  --wait                   then follow the job's events until it ends; events and the outcome
                           go to stderr (stdout keeps only the id). Exit 0 when it SUCCEEDED,
                           3 when it FAILED, 4 when it was CANCELLED
  --idempotency-key KEY    sent as Idempotency-Key: retrying with the same key and spec
                           returns the same job instead of a second one
  --json                   print the job's record instead of its id

Examples:
  trainyard submit job.json
  trainyard submit --wait --idempotency-key nightly-2026-12-03 job.json
  cat job.json | trainyard submit -`,
    options: {
      wait: { type: 'boolean' },
      'idempotency-key': { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: ['spec'],
    async run(ctx) {
      const spec = await readSpec(ctx.args[0]!, ctx.io);
      const key = ctx.values['idempotency-key'] as string | undefined;
      const { job, replayed } = await ctx.client.submit(spec, key);
      write(ctx.io.stdout, ctx.values.json ? JSON.stringify(job, null, 2) : job.id);
      if (replayed) {
        write(
          ctx.io.stderr,
          `trainyard: idempotent replay: this key already submitted ${job.id} (${job.state})`,
        );
      }
      if (!ctx.values.wait) return EXIT.OK;
      return followAndReport(ctx, job.id, ctx.io.stderr, false);
    },
  },
  {
    name: 'get',
    brief: 'get <id>',
    synopsis: 'get <id>',
    summary: "a job's record, as JSON",
    help: `Prints a job's record as JSON (state, spec with defaults, placement, progress,
checkpoints, evaluation or error, restarts).

Example:
  trainyard get job-fd49cff7-ac99-4a50-9546-c641dc2b4ead`,
    options: {},
    positionals: ['id'],
    async run(ctx) {
      write(ctx.io.stdout, JSON.stringify(await ctx.client.get(ctx.args[0]!), null, 2));
      return EXIT.OK;
    },
  },
  {
    name: 'list',
    brief: 'list [--state S]',
    synopsis: 'list [--state STATE] [--limit N] [--json]',
    summary: 'jobs, newest first',
    help: `Lists jobs, newest first, as a table (ID, STATE, NAME, PROGRESS, CREATED).

Options:
  --state STATE   only jobs in this state: QUEUED, PLACED, RUNNING, RESTARTING,
                  SUCCEEDED, FAILED, CANCELLED
  --limit N       at most N jobs (1..500; default 100)
  --json          print the records as a JSON array

Example:
  trainyard list --state RUNNING`,
    options: { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    positionals: [],
    async run(ctx) {
      const state = ctx.values.state as string | undefined;
      const limit = ctx.values.limit as string | undefined;
      // Checked here so a typo is a usage error (exit 2), not an api error (exit 1).
      if (state !== undefined && !JOB_STATES.includes(state as (typeof JOB_STATES)[number])) {
        throw new UsageError(
          `list: --state must be one of ${JOB_STATES.join(', ')}, not '${state}'`,
          ctx.usage,
        );
      }
      if (limit !== undefined && !(/^\d+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 500)) {
        throw new UsageError(`list: --limit must be a whole number from 1 to 500, not '${limit}'`, ctx.usage);
      }
      const jobs = await ctx.client.list({ state, limit });
      if (ctx.values.json) write(ctx.io.stdout, JSON.stringify(jobs, null, 2));
      else if (jobs.length === 0) write(ctx.io.stderr, 'no jobs');
      else write(ctx.io.stdout, jobsTable(jobs));
      return EXIT.OK;
    },
  },
  {
    name: 'cancel',
    brief: 'cancel <id>',
    synopsis: 'cancel [--json] <id>',
    summary: 'cancel a job',
    help: `Cancels a QUEUED, PLACED, RUNNING or RESTARTING job; prints "<id> CANCELLED".
Cancelling a cancelled job is fine; a job that already SUCCEEDED or FAILED is an error
(TRAINYARD_ERR_JOB_TERMINAL).

Options:
  --json   print the job's record

Example:
  trainyard cancel job-fd49cff7-ac99-4a50-9546-c641dc2b4ead`,
    options: { json: { type: 'boolean' } },
    positionals: ['id'],
    async run(ctx) {
      const job = await ctx.client.cancel(ctx.args[0]!);
      write(ctx.io.stdout, ctx.values.json ? JSON.stringify(job, null, 2) : `${job.id} ${job.state}`);
      return EXIT.OK;
    },
  },
  {
    name: 'watch',
    brief: 'watch <id>',
    aliases: ['logs'],
    synopsis: 'watch [--json] <id>',
    summary: "follow a job's events until it ends (alias: logs)",
    help: `Follows a job's event stream (GET /v1/jobs/:id/events) from its first event until the
job ends, one line per event: state changes, restarts, progress (epoch, step, loss, samples,
samples/s, ETA; epochs count from 1), checkpoints and log lines; then the outcome. If the
stream breaks, it reconnects and resumes after the last event it printed.
Exit 0 when the job SUCCEEDED, 3 when it FAILED, 4 when it was CANCELLED.

Options:
  --json   print each event as one line of JSON instead (no outcome line)

Example:
  trainyard watch job-fd49cff7-ac99-4a50-9546-c641dc2b4ead`,
    options: { json: { type: 'boolean' } },
    positionals: ['id'],
    async run(ctx) {
      return followAndReport(ctx, ctx.args[0]!, ctx.io.stdout, ctx.values.json === true);
    },
  },
  {
    name: 'workers',
    brief: 'workers',
    synopsis: 'workers [--json]',
    summary: 'the worker pool (free, busy, lost)',
    help: `Lists the registered workers as the scheduler sees them: id, state (free, busy, lost),
backend, slots, the rank it runs (jobId:generation:rank) and its last heartbeat.

Options:
  --json   print the workers as a JSON array`,
    options: { json: { type: 'boolean' } },
    positionals: [],
    async run(ctx) {
      const workers = await ctx.client.workers();
      if (ctx.values.json) write(ctx.io.stdout, JSON.stringify(workers, null, 2));
      else if (workers.length === 0) write(ctx.io.stderr, 'no workers');
      else write(ctx.io.stdout, workersTable(workers));
      return EXIT.OK;
    },
  },
];

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.brief.length));
  const lines = COMMANDS.map((c) => `  ${c.brief.padEnd(width)}  ${c.summary}`);
  return `Usage: trainyard [options] <command> [arguments]

Commands:
${lines.join('\n')}
  ${'help [command]'.padEnd(width)}  help on a command (or: trainyard <command> --help)

${GLOBAL_HELP}

Exit codes: 0 ok; 1 error (the api's code and message on stderr, or an unreachable api);
2 usage error; 3 a followed job FAILED; 4 a followed job was CANCELLED.`;
}

export function commandUsage(command: Command): string {
  return `Usage: trainyard ${command.synopsis}

${command.help}

${GLOBAL_HELP}`;
}

/** Index of the command word: the first argument that is neither an option nor an option's value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (arg === '--api-url' || arg === '--api-key') i++;
    else if (!arg.startsWith('-') || arg === '-') return i;
  }
  return -1;
}

function parse(args: string[], options: Options, usageText: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, usageText);
  }
}

function resolveApiUrl(value: string | undefined, env: CliIo['env'], usageText: string): string {
  const raw = value ?? (env.TRAINYARD_API_URL?.trim() || DEFAULT_API_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api-url: not a URL: ${raw}`, usageText);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api-url: must be an http:// or https:// URL, not ${raw}`, usageText);
  }
  if (url.username !== '' || url.password !== '') {
    // Never echo the URL here: it holds a password.
    throw new UsageError(
      '--api-url: must not carry a user or password (the api takes an API key: TRAINYARD_API_KEY)',
      usageText,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`--api-url: must not have a query or fragment: ${raw}`, usageText);
  }
  return raw.replace(/\/+$/, '');
}

function report(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    write(io.stderr, `trainyard: ${err.message}\n\n${err.usage}`);
    return EXIT.USAGE;
  }
  if (err instanceof ApiError) {
    write(io.stderr, `trainyard: ${err.code}: ${err.message}`);
    for (const issue of err.issues) write(io.stderr, `  ${issue.path || '(body)'}: ${issue.message}`);
    if (err.code === 'TRAINYARD_ERR_UNAUTHENTICATED') {
      write(io.stderr, 'trainyard: set TRAINYARD_API_KEY (or --api-key) to a key the api accepts');
    }
    return EXIT.ERROR;
  }
  if (err instanceof ConnectionError) {
    write(io.stderr, `trainyard: ${err.message} (is the api running? set --api-url or TRAINYARD_API_URL)`);
    return EXIT.ERROR;
  }
  if (err instanceof InputError) {
    write(io.stderr, `trainyard: ${err.message}`);
    return EXIT.ERROR;
  }
  write(
    io.stderr,
    `trainyard: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  return EXIT.ERROR;
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs the command line `argv` (without `node` and the script); returns the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const index = commandIndex(argv);
    if (index < 0) {
      const { values } = parse([...argv], { ...GLOBAL_OPTIONS, version: { type: 'boolean' } }, usage());
      if (values.version) {
        write(io.stdout, await version());
        return EXIT.OK;
      }
      if (values.help) {
        write(io.stdout, usage());
        return EXIT.OK;
      }
      throw new UsageError('no command given', usage());
    }
    const name = argv[index]!;
    const rest = [...argv.slice(0, index), ...argv.slice(index + 1)].filter(
      (a, i) => !(a === '--' && i === index - 1),
    );
    if (name === 'help') {
      const { positionals } = parse(rest, GLOBAL_OPTIONS, usage());
      const topic = positionals[0] === undefined ? undefined : findCommand(positionals[0]);
      if (positionals.length > 1 || (positionals[0] !== undefined && topic === undefined)) {
        throw new UsageError(`no such command: ${positionals.join(' ')}`, usage());
      }
      write(io.stdout, topic ? commandUsage(topic) : usage());
      return EXIT.OK;
    }
    const command = findCommand(name);
    if (!command) throw new UsageError(`unknown command '${name}'`, usage());
    const text = commandUsage(command);
    const { values, positionals } = parse(rest, { ...GLOBAL_OPTIONS, ...command.options }, text);
    if (values.help) {
      write(io.stdout, text);
      return EXIT.OK;
    }
    const expected = command.positionals.length;
    if (positionals.length !== expected) {
      const what =
        positionals.length < expected
          ? `missing ${command.positionals
              .slice(positionals.length)
              .map((p) => `<${p}>`)
              .join(' ')}`
          : `unexpected argument '${positionals[expected]}'`;
      throw new UsageError(`${command.name}: ${what}`, text);
    }
    const apiUrl = resolveApiUrl(values['api-url'] as string | undefined, io.env, text);
    const apiKey =
      (values['api-key'] as string | undefined) ?? (io.env.TRAINYARD_API_KEY?.trim() || undefined);
    if (apiKey !== undefined && !API_KEY_PATTERN.test(apiKey)) {
      // The api's keys use these characters only; anything else cannot be a valid key (and some
      // characters cannot travel in an HTTP header at all). The key itself is not echoed.
      throw new UsageError(
        'the API key (--api-key or TRAINYARD_API_KEY) may hold only A-Z a-z 0-9 . _ ~ + / = -',
        text,
      );
    }
    const client = new ApiClient({
      baseUrl: apiUrl,
      apiKey,
      ...(io.fetch ? { fetch: io.fetch } : {}),
      ...(io.streamIdleMs ? { streamIdleMs: io.streamIdleMs } : {}),
    });
    return await command.run({
      io,
      client,
      values: values as Context['values'],
      args: positionals,
      usage: text,
    });
  } catch (err) {
    return report(err, io);
  }
}
