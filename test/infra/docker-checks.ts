/**
 * Offline checks of Trainyard's Dockerfiles and of the root .dockerignore: a small Dockerfile
 * parser (parser directives, comments, line continuations, JSON and shell forms), a lint with
 * `dockerfile-utils`, and Trainyard's image rules. Every rule returns the problems it finds (an
 * empty list when the file keeps it), so a test can show both that the real files pass and that
 * a broken Dockerfile string is caught.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationSeverity, validate } from 'dockerfile-utils';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DOCKER_DIR = 'infra/docker';

export interface Problem {
  readonly rule: RuleName;
  /** 1-based line of the instruction, 0 when the problem is about the whole file. */
  readonly line: number;
  readonly message: string;
}

export type RuleName =
  | 'lint'
  | 'pinned-from'
  | 'non-root-user'
  | 'healthcheck'
  | 'exec-form'
  | 'stopsignal'
  | 'no-secrets'
  | 'prod-install'
  | 'node-env'
  | 'expose-healthcheck-port'
  | 'root-owned-app'
  | 'copy-sources'
  | 'dockerignore';

// ---------------------------------------------------------------------------------------
// Parsing

export interface Instruction {
  /** Upper-cased, e.g. `COPY`. */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly index: number;
  /** The image reference as written (variables not substituted). */
  readonly image: string;
  readonly alias: string | undefined;
  readonly line: number;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults (undefined when none). */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
  readonly stages: readonly Stage[];
}

/** Splits a Dockerfile into instructions: comments dropped, continuation lines joined. */
export function parseInstructions(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  let escapeChar = '\\';
  // Parser directives: `# name=value` lines at the very top.
  for (const line of lines) {
    const m = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escapeChar = m[2]!;
  }
  const out: Instruction[] = [];
  let parts: string[] = [];
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (parts.length === 0 && (trimmed === '' || trimmed.startsWith('#'))) continue;
    // Comments and empty lines inside a continuation are dropped; the instruction goes on.
    if (parts.length > 0 && (trimmed === '' || trimmed.startsWith('#')) && i < lines.length - 1) continue;
    if (parts.length === 0) start = i + 1;
    const continued = trimmed.endsWith(escapeChar) && trimmed.length > 0;
    parts.push(continued ? trimmed.slice(0, -escapeChar.length).trim() : trimmed);
    if (continued && i < lines.length - 1) continue;
    const joined = parts.filter((p) => p !== '').join(' ');
    parts = [];
    const m = /^(\S+)\s*([\s\S]*)$/.exec(joined);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  }
  return out;
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs = new Map<string, string | undefined>();
  const stages: {
    index: number;
    image: string;
    alias: string | undefined;
    line: number;
    instructions: Instruction[];
  }[] = [];
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === 'FROM') {
      const words = shellWords(ins.args).filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toLowerCase() === 'as');
      stages.push({
        index: stages.length,
        image: words[0] ?? '',
        alias: asAt >= 0 ? words[asAt + 1] : undefined,
        line: ins.line,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (stage) {
      stage.instructions.push(ins);
    } else if (ins.keyword === 'ARG') {
      for (const [name, value] of argPairs(ins.args)) globalArgs.set(name, value);
    }
  }
  return { globalArgs, stages };
}

/** Words of a shell-form argument string: quotes and backslash escapes honoured. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** `ENV`/`LABEL` pairs: `K=V K2="V 2"`, or the legacy `ENV K V` form. */
export function keyValuePairs(args: string): [string, string][] {
  const words = shellWords(args);
  if (words.length > 0 && !words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args.trim());
    return m ? [[m[1]!, shellWords(m[2]!).join(' ')]] : [[words[0]!, '']];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, ''] : [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** `ARG NAME` or `ARG NAME=default` (several per line allowed). */
export function argPairs(args: string): [string, string | undefined][] {
  return shellWords(args).map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, undefined] : [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** The JSON array of an exec-form instruction, or null for the shell form. */
export function execForm(args: string): string[] | null {
  if (!args.trim().startsWith('[')) return null;
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
  } catch {
    return null;
  }
}

/** Flags (`--name=value` / `--name`) at the start of an instruction, and the rest. */
export function splitFlags(args: string): { flags: Map<string, string>; rest: string[] } {
  const words = shellWords(args);
  const flags = new Map<string, string>();
  let i = 0;
  for (; i < words.length && words[i]!.startsWith('--'); i++) {
    const w = words[i]!.slice(2);
    const eq = w.indexOf('=');
    flags.set(eq < 0 ? w : w.slice(0, eq), eq < 0 ? '' : w.slice(eq + 1));
  }
  return { flags, rest: words.slice(i) };
}

/** Substitutes `$VAR` / `${VAR}` from the global ARG defaults; undefined when one is unset. */
export function resolveImage(
  image: string,
  globalArgs: ReadonlyMap<string, string | undefined>,
): string | undefined {
  let unresolved = false;
  const out = image.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a, b) => {
    const value = globalArgs.get((a ?? b) as string);
    if (value === undefined || value === '') unresolved = true;
    return value ?? '';
  });
  return unresolved ? undefined : out;
}

function finalStage(df: Dockerfile): Stage | undefined {
  return df.stages.at(-1);
}

function all(stage: Stage | undefined, keyword: string): Instruction[] {
  return stage ? stage.instructions.filter((i) => i.keyword === keyword) : [];
}

/** The environment a stage declares (its own ENV lines, later ones winning). */
export function stageEnv(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of all(stage, 'ENV')) for (const [k, v] of keyValuePairs(ins.args)) env.set(k, v);
  return env;
}

export function stageLabels(stage: Stage): Map<string, string> {
  const labels = new Map<string, string>();
  for (const ins of all(stage, 'LABEL')) for (const [k, v] of keyValuePairs(ins.args)) labels.set(k, v);
  return labels;
}

/** Ports of EXPOSE lines (`8080`, `8080/tcp`). */
export function exposedPorts(stage: Stage): number[] {
  return all(stage, 'EXPOSE').flatMap((i) => shellWords(i.args).map((w) => Number(w.split('/')[0])));
}

/** The command of the stage's last HEALTHCHECK (null when none or `NONE`). */
export function healthcheckCommand(stage: Stage): string | null {
  const hc = all(stage, 'HEALTHCHECK').at(-1);
  if (!hc || /^NONE\b/i.test(hc.args)) return null;
  const m = /(?:^|\s)CMD\s+([\s\S]*)$/i.exec(hc.args);
  if (!m) return null;
  const exec = execForm(m[1]!);
  return exec ? exec.join(' ') : m[1]!;
}

/** Ports a health-check command talks to: `host:PORT` and `process.env.X||PORT` defaults. */
export function healthcheckPorts(command: string): number[] {
  const ports = new Set<number>();
  for (const m of command.matchAll(/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/g)) ports.add(Number(m[1]));
  for (const m of command.matchAll(/process\.env\.[A-Z0-9_]+\s*(?:\|\||\?\?)\s*['"]?(\d+)/g))
    ports.add(Number(m[1]));
  return [...ports];
}

// ---------------------------------------------------------------------------------------
// Rules

/** dockerfile-utils' validator. Warnings count as failures too (instruction casing,
 * relative WORKDIR, empty continuation lines, JSON in single quotes are all set to warn at
 * least): our Dockerfiles are kept free of every diagnostic it reports. */
export function lint(text: string): Problem[] {
  const diagnostics = validate(text, {
    deprecatedMaintainer: ValidationSeverity.WARNING,
    directiveCasing: ValidationSeverity.WARNING,
    emptyContinuationLine: ValidationSeverity.WARNING,
    instructionCasing: ValidationSeverity.WARNING,
    instructionCmdMultiple: ValidationSeverity.WARNING,
    instructionEntrypointMultiple: ValidationSeverity.WARNING,
    instructionHealthcheckMultiple: ValidationSeverity.WARNING,
    instructionJSONInSingleQuotes: ValidationSeverity.WARNING,
    instructionWorkdirRelative: ValidationSeverity.WARNING,
  });
  return diagnostics.map((d) => ({
    rule: 'lint',
    line: d.range.start.line + 1,
    message: `${d.severity === 1 ? 'error' : 'warning'}: ${d.message}`,
  }));
}

const FULL_VERSION = /(?:^|[^0-9.])\d+\.\d+\.\d+/;
const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** Every FROM names an earlier stage, `scratch`, or an image pinned by digest or by a full
 * version tag (x.y.z somewhere in the tag; never `latest`, never a bare `node:20`). */
export function pinnedFrom(df: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  const aliases = new Set<string>();
  for (const stage of df.stages) {
    const image = resolveImage(stage.image, df.globalArgs);
    if (image === undefined) {
      problems.push({
        rule: 'pinned-from',
        line: stage.line,
        message: `${stage.image}: a variable has no default`,
      });
    } else if (!aliases.has(image.toLowerCase()) && image !== 'scratch') {
      if (!DIGEST.test(image)) {
        const name = image.split('@')[0]!;
        const slash = name.lastIndexOf('/');
        const colon = name.lastIndexOf(':');
        const tag = colon > slash ? name.slice(colon + 1) : '';
        if (tag === '' || tag === 'latest' || !FULL_VERSION.test(tag)) {
          problems.push({
            rule: 'pinned-from',
            line: stage.line,
            message: `${image}: not pinned (needs a digest or a full x.y.z version tag)`,
          });
        }
      }
    }
    if (stage.alias) aliases.add(stage.alias.toLowerCase());
  }
  return problems;
}

/** The final stage switches to a user that is not root (by name or uid 0). */
export function nonRootUser(df: Dockerfile): Problem[] {
  const stage = finalStage(df);
  const user = all(stage, 'USER').at(-1);
  if (!user)
    return [{ rule: 'non-root-user', line: 0, message: 'the final stage sets no USER (runs as root)' }];
  const name = user.args.trim().split(':')[0]!;
  if (name === '' || name === 'root' || /^0+$/.test(name)) {
    return [{ rule: 'non-root-user', line: user.line, message: `USER ${user.args} is root` }];
  }
  return [];
}

export function healthcheck(df: Dockerfile): Problem[] {
  const stage = finalStage(df);
  if (!stage || healthcheckCommand(stage) === null) {
    return [{ rule: 'healthcheck', line: 0, message: 'the final stage has no HEALTHCHECK' }];
  }
  return [];
}

/** CMD and ENTRYPOINT in exec (JSON) form, so the process gets signals itself instead of a
 * `/bin/sh -c` wrapper; the final stage must set at least one of them. */
export function execFormCommands(df: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  for (const stage of df.stages) {
    for (const ins of stage.instructions) {
      if ((ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && execForm(ins.args) === null) {
        problems.push({ rule: 'exec-form', line: ins.line, message: `${ins.keyword} is in shell form` });
      }
    }
  }
  const stage = finalStage(df);
  if (stage && all(stage, 'CMD').length + all(stage, 'ENTRYPOINT').length === 0) {
    problems.push({ rule: 'exec-form', line: 0, message: 'the final stage sets neither CMD nor ENTRYPOINT' });
  }
  return problems;
}

export function stopSignal(df: Dockerfile): Problem[] {
  const sig = all(finalStage(df), 'STOPSIGNAL').at(-1);
  if (!sig) return [{ rule: 'stopsignal', line: 0, message: 'the final stage has no STOPSIGNAL' }];
  return /^(SIGTERM|15)$/.test(sig.args.trim())
    ? []
    : [
        {
          rule: 'stopsignal',
          line: sig.line,
          message: `STOPSIGNAL ${sig.args}: the services drain on SIGTERM`,
        },
      ];
}

const SECRET_NAME =
  /PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY|API_?KEY|_KEYS?$|^KEYS?$/i;
const SECRET_FILE = /^(\.env(\..*)?|.*\.env|\.npmrc|id_rsa|id_ed25519|.*\.pem)$/;

/** No ENV/ARG with a secret-looking name and a value; no COPY/ADD of .env-like files. */
export function noSecrets(df: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  const check = (name: string, value: string | undefined, line: number, keyword: string) => {
    if (SECRET_NAME.test(name) && value !== undefined && value !== '') {
      problems.push({
        rule: 'no-secrets',
        line,
        message: `${keyword} ${name} bakes a secret-looking value in`,
      });
    }
  };
  for (const [name, value] of df.globalArgs) check(name, value, 0, 'ARG');
  for (const stage of df.stages) {
    for (const ins of stage.instructions) {
      if (ins.keyword === 'ENV') for (const [k, v] of keyValuePairs(ins.args)) check(k, v, ins.line, 'ENV');
      if (ins.keyword === 'ARG') for (const [k, v] of argPairs(ins.args)) check(k, v, ins.line, 'ARG');
      if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
        for (const src of copySources(ins)) {
          if (SECRET_FILE.test(posix.basename(src))) {
            problems.push({
              rule: 'no-secrets',
              line: ins.line,
              message: `${ins.keyword} ${src}: a secrets file`,
            });
          }
        }
      }
    }
  }
  return problems;
}

const INSTALL = /\b(?:npm\s+(?:install|i|ci)|pnpm\s+(?:install|i|add)|yarn(?:\s+install)?)\b/;
const PROD_FLAG = /(?:^|\s)(?:--prod|--production|-P|--omit=dev|--only=prod(?:uction)?)(?=\s|$)/;
const DEPLOY = /\bpnpm\b[^;&|]*\bdeploy\b/;

/** The final stage holds production dependencies only: every package install it runs is
 * production-only, and its node_modules come from such an install or from a stage whose
 * `pnpm deploy` is `--prod`. A global tool install (`npm install -g`) is not an app install. */
export function prodInstall(df: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  const prodStages = new Set<string>();
  for (const stage of df.stages) {
    for (const ins of all(stage, 'RUN')) {
      for (const cmd of ins.args.split(/&&|;|\|\|/)) {
        if (DEPLOY.test(cmd)) {
          if (PROD_FLAG.test(cmd)) {
            prodStages.add(String(stage.index));
            if (stage.alias) prodStages.add(stage.alias.toLowerCase());
          } else {
            problems.push({ rule: 'prod-install', line: ins.line, message: 'pnpm deploy without --prod' });
          }
        }
      }
    }
  }
  const stage = finalStage(df);
  if (!stage) return problems;
  let fromProd = false;
  for (const ins of stage.instructions) {
    if (ins.keyword === 'RUN') {
      for (const cmd of ins.args.split(/&&|;|\|\|/)) {
        if (!INSTALL.test(cmd) || /\s(?:-g|--global)(?=\s|$)/.test(cmd)) continue;
        if (PROD_FLAG.test(cmd)) fromProd = true;
        else
          problems.push({
            rule: 'prod-install',
            line: ins.line,
            message: `installs devDependencies: ${cmd.trim()}`,
          });
      }
    }
    if (ins.keyword === 'COPY') {
      const from = splitFlags(ins.args).flags.get('from');
      if (from !== undefined && prodStages.has(from.toLowerCase())) fromProd = true;
    }
  }
  if (!fromProd) {
    problems.push({
      rule: 'prod-install',
      line: 0,
      message: 'the final stage neither installs with --prod nor copies a `pnpm deploy --prod` output',
    });
  }
  return problems;
}

export function nodeEnvProduction(df: Dockerfile): Problem[] {
  const stage = finalStage(df);
  return stage && stageEnv(stage).get('NODE_ENV') === 'production'
    ? []
    : [{ rule: 'node-env', line: 0, message: 'the final stage does not set NODE_ENV=production' }];
}

/** The HEALTHCHECK talks to a port the final stage EXPOSEs (and to at least one port). */
export function exposeMatchesHealthcheck(df: Dockerfile): Problem[] {
  const stage = finalStage(df);
  const command = stage ? healthcheckCommand(stage) : null;
  if (!stage || command === null) return []; // the healthcheck rule reports that
  const exposed = exposedPorts(stage);
  const ports = healthcheckPorts(command);
  if (exposed.length === 0) return [{ rule: 'expose-healthcheck-port', line: 0, message: 'no EXPOSE' }];
  if (ports.length === 0) {
    return [{ rule: 'expose-healthcheck-port', line: 0, message: 'the HEALTHCHECK names no port' }];
  }
  return ports
    .filter((p) => !exposed.includes(p))
    .map((p) => ({
      rule: 'expose-healthcheck-port',
      line: 0,
      message: `the HEALTHCHECK uses port ${p}, EXPOSE has ${exposed.join(', ')}`,
    }));
}

/** The app's files stay owned by root: no COPY/ADD --chown in the final stage and no RUN
 * that chowns or chmods its WORKDIR. */
export function rootOwnedApp(df: Dockerfile): Problem[] {
  const stage = finalStage(df);
  if (!stage) return [];
  const problems: Problem[] = [];
  const workdirs = all(stage, 'WORKDIR').map((w) => w.args.trim());
  for (const ins of stage.instructions) {
    if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && splitFlags(ins.args).flags.has('chown')) {
      problems.push({
        rule: 'root-owned-app',
        line: ins.line,
        message: `${ins.keyword} --chown: the app would be writable`,
      });
    }
    if (ins.keyword === 'RUN' && /\bch(?:own|mod)\b/.test(ins.args)) {
      if (
        workdirs.some((w) => ins.args.includes(w)) ||
        /\bch(?:own|mod)\b[^;&|]*\s(?:\.|\/app)(?:\/|\s|$)/.test(ins.args)
      ) {
        problems.push({
          rule: 'root-owned-app',
          line: ins.line,
          message: 'RUN changes the ownership/mode of the app',
        });
      }
    }
  }
  return problems;
}

/** The sources of a COPY/ADD (not the destination), flags removed; JSON or shell form. */
export function copySources(ins: Instruction): string[] {
  const rest = ins.args.replace(/^(?:--\S+\s+)*/, '');
  const words = execForm(rest) ?? shellWords(rest);
  return words.slice(0, -1);
}

/** What the build context holds: lets the COPY check run on a string without a repo. */
export interface BuildContext {
  exists(path: string): boolean;
  /** Whether .dockerignore keeps the path (a file, or a folder with any kept file) out. */
  excluded(path: string): boolean;
}

/** Every COPY/ADD source that is not `--from` another stage or image is in the build context:
 * it exists, and .dockerignore does not leave it out. */
export function copySourcesExist(df: Dockerfile, context: BuildContext): Problem[] {
  const problems: Problem[] = [];
  for (const stage of df.stages) {
    for (const ins of stage.instructions) {
      if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue;
      if (splitFlags(ins.args).flags.has('from')) continue;
      for (const raw of copySources(ins)) {
        if (/^[a-z]+:\/\//.test(raw)) continue; // ADD <url>
        const src =
          posix
            .normalize(raw)
            .replace(/^\.?\/+/, '')
            .replace(/\/$/, '') || '.';
        if (!context.exists(src)) {
          problems.push({
            rule: 'copy-sources',
            line: ins.line,
            message: `${ins.keyword} ${raw}: not in the repository`,
          });
        } else if (context.excluded(src)) {
          problems.push({
            rule: 'copy-sources',
            line: ins.line,
            message: `${ins.keyword} ${raw}: left out by .dockerignore`,
          });
        }
      }
    }
  }
  return problems;
}

export function checkDockerfile(text: string, context: BuildContext): Problem[] {
  const df = parseDockerfile(text);
  return [
    ...lint(text),
    ...pinnedFrom(df),
    ...nonRootUser(df),
    ...healthcheck(df),
    ...execFormCommands(df),
    ...stopSignal(df),
    ...noSecrets(df),
    ...prodInstall(df),
    ...nodeEnvProduction(df),
    ...exposeMatchesHealthcheck(df),
    ...rootOwnedApp(df),
    ...copySourcesExist(df, context),
  ];
}

// ---------------------------------------------------------------------------------------
// .dockerignore, matched the way Docker does (moby/patternmatcher): `#` comments, `!`
// exceptions, `**` any number of folders, `*`/`?` within one name; a path is left out when a
// pattern matches it or one of its parent folders, and the last matching line wins.

interface IgnorePattern {
  readonly negate: boolean;
  readonly regex: RegExp;
}

function globToRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    patterns.push({ negate, regex: globToRegex(line) });
  }
  return patterns;
}

/** Whether Docker leaves this path (relative to the context, `/`-separated) out. */
export function isIgnored(patterns: readonly IgnorePattern[], path: string): boolean {
  const parts = posix.normalize(path).split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (candidates.some((c) => p.regex.test(c))) ignored = !p.negate;
  }
  return ignored;
}

/** Paths that must never reach the build context. */
export const MUST_IGNORE = [
  'node_modules/zod/package.json',
  'packages/core/node_modules/zod/package.json',
  'services/api/node_modules/.bin/tsx',
  '.git/HEAD',
  '.git/objects/ab/cdef',
  '.env',
  'services/api/.env',
  '.tools/node_modules/.bin/pnpm',
  '.data/objects/x',
  'coverage/index.html',
];

export function checkDockerignore(text: string): Problem[] {
  const patterns = parseDockerignore(text);
  return MUST_IGNORE.filter((p) => !isIgnored(patterns, p)).map((p) => ({
    rule: 'dockerignore',
    line: 0,
    message: `${p} would be sent to the build context`,
  }));
}

/** The repository as a build context, with the root .dockerignore applied. */
export function repoContext(root = ROOT): BuildContext {
  const ignoreFile = join(root, '.dockerignore');
  const patterns = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  // A file is sent unless ignored; a folder is sent with whatever it holds that is not ignored
  // (an excluded folder can still have an exception inside, e.g. `*` then `!scripts/x.sh`).
  const keptFileUnder = (rel: string): boolean => {
    const abs = join(root, rel);
    if (!statSync(abs).isDirectory()) return !isIgnored(patterns, rel);
    return readdirSync(abs).some((name) => name !== 'node_modules' && keptFileUnder(posix.join(rel, name)));
  };
  return {
    exists: (path) => existsSync(join(root, path)),
    excluded: (path) => !keptFileUnder(path),
  };
}

export function dockerfilePaths(root = ROOT): string[] {
  return readdirSync(join(root, DOCKER_DIR))
    .filter((f) => f.endsWith('.Dockerfile') || f === 'Dockerfile')
    .sort()
    .map((f) => posix.join(DOCKER_DIR, f));
}
