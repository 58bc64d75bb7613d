import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { errorMessage } from '../domain/errors.js';
import { actionModules } from '../toe/actions/registry.js';
import { validateDocumentText } from '../toe/document/validate.js';
import { LocalInstance } from '../toe/instance/local.js';
import type { DocumentInput } from '../toe/runner/documents.js';
import { runDocuments } from '../toe/runner/run.js';
import { defaultLogDirectory, ensureDefaultLogDirectory } from '../toe/runner/default-log-directory.js';
import { EXIT, UsageError } from './kiln-client.js';
import { printJson } from './table.js';

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * `k=v,k2=v2` as awstoe takes it. A piece without `=` continues the previous value, so a list such as
 * `Hosts=a,b` keeps its comma; a value may itself contain `=`.
 */
export function parseParameters(value: string | undefined, where = '--parameters'): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const piece of (value ?? '').split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0 && /^[A-Za-z0-9_-]+$/.test(piece.slice(0, eq).trim())) {
      last = piece.slice(0, eq).trim();
      out[last] = piece.slice(eq + 1);
    } else if (last !== undefined) {
      out[last] += `,${piece}`;
    } else if (piece.trim() !== '') {
      throw new UsageError(`${where}: "${piece}" is not name=value`);
    }
  }
  return out;
}

interface RunConfig {
  documents?: { path: string; parameters?: { name: string; value: string }[] }[];
  phases?: string | string[];
  parameters?: { name: string; value: string }[];
  executionId?: string;
  logDirectory?: string;
  stateDirectory?: string;
  trace?: boolean;
}

const CONFIG_KEYS = [
  'documents', 'phases', 'parameters', 'executionId', 'logDirectory', 'stateDirectory', 'trace',
  'cwLogGroup', 'cwLogStream', 'cwLogRegion', 'cwIgnoreFailures', 'documentS3BucketOwner',
  'logS3BucketName', 'logS3BucketOwner', 'logS3KeyPrefix',
];

function pairs(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!Array.isArray(value)) throw new UsageError(`${where} must be a list of {"name","value"} objects`);
  const out: Record<string, string> = {};
  value.forEach((p: unknown, i) => {
    const item = p as { name?: unknown; value?: unknown };
    if (typeof item?.name !== 'string' || item.value === undefined) throw new UsageError(`${where}[${i}] must be {"name": string, "value": string}`);
    out[item.name] = String(item.value);
  });
  return out;
}

/** Reads and checks the run-config JSON file (awstoe's --config). */
async function readConfig(path: string): Promise<RunConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config ${path}: ${errorMessage(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`--config ${path}: must be a JSON object`);
  for (const key of Object.keys(raw)) {
    if (!CONFIG_KEYS.includes(key)) throw new UsageError(`--config ${path}: unknown key "${key}"`);
  }
  const config = raw as RunConfig & Record<string, unknown>;
  for (const key of ['cwLogGroup', 'cwLogStream', 'logS3BucketName']) {
    if (config[key] !== undefined) throw new UsageError(`--config ${path}: "${key}" (log upload) is not supported by kiln toe; logs stay in the log directory`);
  }
  return config;
}

async function readDocuments(paths: string[], perDocument: Record<string, Record<string, string>> = {}): Promise<DocumentInput[]> {
  return Promise.all(
    paths.map(async (p) => {
      if (/^s3:\/\//i.test(p) || p.startsWith('arn:')) throw new UsageError(`--documents ${p}: only local files are supported by kiln toe`);
      try {
        return { path: resolve(p), text: await readFile(p, 'utf8'), parameters: perDocument[p] ?? {} };
      } catch (err) {
        throw new UsageError(`--documents ${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
      }
    }),
  );
}

interface RunFlags {
  documents?: string;
  config?: string;
  phases?: string;
  parameters?: string;
  executionId?: string;
  logDirectory?: string;
  stateDirectory?: string;
  trace?: boolean;
  logS3BucketName?: string;
  cwLogGroup?: string;
  json?: boolean;
}

/** The given log directory, or the default one, created private (default-log-directory.ts). */
async function logDirectoryOf(given: string | undefined): Promise<string> {
  if (given !== undefined) return resolve(given);
  const dir = defaultLogDirectory();
  await ensureDefaultLogDirectory(dir);
  return dir;
}

async function toeRun(flags: RunFlags): Promise<number> {
  if ((flags.documents === undefined) === (flags.config === undefined)) {
    throw new UsageError('give exactly one of --documents and --config');
  }
  if (flags.logS3BucketName !== undefined || flags.cwLogGroup !== undefined) {
    throw new UsageError('log upload to S3 or CloudWatch is not supported by kiln toe; logs stay in --log-directory');
  }
  const config = flags.config ? await readConfig(flags.config) : {};
  if (config.parameters !== undefined && flags.parameters !== undefined) {
    throw new UsageError('parameters are given both in --config and with --parameters; give them one way');
  }
  let documents: DocumentInput[];
  if (flags.documents !== undefined) documents = await readDocuments(list(flags.documents));
  else {
    if (!Array.isArray(config.documents) || config.documents.length === 0) throw new UsageError(`--config: "documents" must be a non-empty list`);
    const per: Record<string, Record<string, string>> = {};
    config.documents.forEach((d, i) => {
      if (typeof d?.path !== 'string') throw new UsageError(`--config: documents[${i}].path must be a string`);
      per[d.path] = pairs(d.parameters, `--config: documents[${i}].parameters`);
    });
    documents = await readDocuments(config.documents.map((d) => d.path), per);
  }
  const phases = flags.phases !== undefined ? list(flags.phases) : Array.isArray(config.phases) ? config.phases : config.phases !== undefined ? list(config.phases) : undefined;
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const instance = new LocalInstance();
  try {
    const result = await runDocuments({
      documents,
      phases,
      parameters: flags.parameters !== undefined ? parseParameters(flags.parameters) : pairs(config.parameters, '--config: parameters'),
      executionId: flags.executionId ?? config.executionId,
      logDirectory: await logDirectoryOf(flags.logDirectory ?? config.logDirectory),
      stateDirectory: flags.stateDirectory ?? config.stateDirectory,
      trace: flags.trace ?? config.trace ?? false,
      instance,
      modules: actionModules(),
      signal: controller.signal,
      onOutput: (text) => process.stderr.write(text),
    });
    // awstoe prints the summary indented; --json keeps it to one line like every other --json.
    if (flags.json) printJson(result.summary);
    else process.stdout.write(`${JSON.stringify(result.summary, null, 2)}\n`);
    if (controller.signal.aborted) return EXIT.INTERRUPTED;
    return result.summary.status === 'Success' || result.summary.status === 'SuccessWithIgnoredFailure' ? EXIT.SUCCESS : EXIT.FAILURE;
  } finally {
    await instance.dispose();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function toeValidate(flags: { documents?: string; json?: boolean }): Promise<number> {
  const paths = list(flags.documents);
  if (paths.length === 0) throw new UsageError('--documents is required');
  const modules = actionModules();
  let failed = 0;
  const results: { document: string; valid: boolean; issues: { path: string; message: string }[] }[] = [];
  for (const doc of await readDocuments(paths)) {
    const { issues } = validateDocumentText(doc.text, modules);
    results.push({ document: doc.path, valid: issues.length === 0, issues: issues.map((i) => ({ path: i.path, message: i.message })) });
    if (flags.json) {
      if (issues.length > 0) failed++;
      continue;
    }
    if (issues.length === 0) {
      process.stdout.write(`${doc.path}: valid\n`);
      continue;
    }
    failed++;
    process.stdout.write(`${doc.path}: invalid\n${issues.map((i) => `  ${i.path || '(document)'}: ${i.message}`).join('\n')}\n`);
  }
  if (flags.json) printJson(results);
  return failed === 0 ? EXIT.SUCCESS : EXIT.FAILURE;
}

/** Wraps an action so usage errors print one line and exit 2, and other failures exit 1. */
function action<T>(fn: (flags: T) => Promise<number>): (flags: T) => Promise<void> {
  return async (flags) => {
    try {
      process.exitCode = await fn(flags);
    } catch (err) {
      process.stderr.write(`kiln: ${errorMessage(err)}\n`);
      process.exitCode = err instanceof UsageError ? EXIT.USAGE : EXIT.FAILURE;
    }
  };
}

/** `kiln toe run|validate`, with awstoe's flags. */
export function registerToeCommands(program: Command): void {
  const toe = program.command('toe').description('run and validate AWSTOE component documents, as awstoe does');
  toe
    .command('validate')
    .description('check documents for syntax, schema and references')
    .requiredOption('-d, --documents <paths>', 'comma-separated document paths')
    .option('--document-s3-bucket-owner <id>', 'accepted for compatibility')
    .option('-t, --trace', 'more detail')
    .option('--json', 'print a JSON array of {"document","valid","issues":[{"path","message"}]}')
    .action(action(toeValidate));
  toe
    .command('run')
    .description('run documents on this machine')
    .option('-d, --documents <paths>', 'comma-separated document paths')
    .option('-c, --config <file>', 'run-config JSON file')
    .option('-p, --phases <phases>', 'comma-separated phases to run (document order is kept)')
    .option('--parameters <pairs>', 'name=value,name=value')
    .option('-i, --execution-id <id>', 'execution id (default: a new UUID)')
    .option('-l, --log-directory <dir>', 'where the TOE_… log folder is created (default: /var/lib/amazon/toe as root, else $XDG_STATE_HOME/kiln/toe)')
    .option('-s, --state-directory <dir>', 'where state is kept to resume after a reboot')
    .option('-t, --trace', 'print debug lines too')
    .option('-b, --log-s3-bucket-name <name>', 'not supported')
    .option('--cw-log-group <name>', 'not supported')
    .option('--json', 'print the summary as one line of JSON (default: indented, as awstoe does)')
    .action(action(toeRun));
}
