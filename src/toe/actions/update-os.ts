import type { Issue } from '../../domain/errors.js';
import type { Instance } from '../instance/instance.js';
import { applyFields } from './fields.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';

/** Package managers UpdateOS knows, in the order they are looked for. */
export const PACKAGE_MANAGERS = ['apt-get', 'dnf', 'yum', 'apk'] as const;

/** One of PACKAGE_MANAGERS. */
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** UpdateOS inputs: the packages to update (empty = all) and those to leave alone. */
export interface PackageSelection {
  include: string[];
  exclude: string[];
}

/** A command of the plan, run as root inside the instance. */
export interface PlannedCommand {
  argv: string[];
  env?: Record<string, string>;
}

/** What UpdateOS will run: `commands` in order, then `cleanup` whatever happened. */
export interface UpdatePlan {
  commands: PlannedCommand[];
  cleanup: PlannedCommand[];
  summary: string;
}

/** What the plan for apt needs to know about the machine before it can hold excluded packages. */
export interface AptFacts {
  /** Excluded packages that are installed (holding an unknown name makes apt-mark fail). */
  installedExcluded: string[];
  /** Packages already on hold, which must stay held after the run. */
  alreadyHeld: string[];
}

const checkPackages = (value: unknown): string | undefined => {
  const bad = (value as string[]).find((name) => name.trim() === '' || name.trim().startsWith('-'));
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a package name`;
};

const fields: Record<string, FieldSpec> = {
  include: { type: 'stringList', default: [], check: checkPackages },
  exclude: { type: 'stringList', default: [], check: checkPackages },
};

/** Makes apt and dpkg never stop for a question: keep changed config files, restart services without asking. */
const APT_ENV: Record<string, string> = {
  DEBIAN_FRONTEND: 'noninteractive',
  NEEDRESTART_MODE: 'a',
  APT_LISTCHANGES_FRONTEND: 'none',
};
const DPKG_OPTIONS = ['-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

/** The dpkg-query call whose output parseDpkgInstalled reads. */
export function dpkgQueryArgv(names: string[]): string[] {
  return ['dpkg-query', '-W', '--showformat=${db:Status-Abbrev}|${Package}\\n', '--', ...names];
}

/** Installed package names from dpkg-query output (second status letter: n = not installed, c = config only). */
export function parseDpkgInstalled(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [status, name] = line.split('|');
    if (status === undefined || name === undefined || name.trim() === '') continue;
    const state = status.trim()[1];
    if (state !== undefined && state !== 'n' && state !== 'c') names.add(name.trim());
  }
  return [...names];
}

/** Package names from `apt-mark showhold`. */
export function parseLines(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * The commands that update the OS with `manager`. AWSTOE semantics: no include = every available update;
 * with include = only those packages; exclude always wins over include.
 */
export function planUpdate(manager: PackageManager, selection: PackageSelection, facts?: AptFacts): UpdatePlan {
  const excluded = new Set(selection.exclude);
  const include = selection.include.filter((p) => !excluded.has(p));
  const onlySome = selection.include.length > 0;
  if (onlySome && include.length === 0) {
    return { commands: [], cleanup: [], summary: 'nothing to update: every included package is also excluded' };
  }
  const what = onlySome ? include.join(', ') : 'all packages';
  const but = !onlySome && selection.exclude.length > 0 ? ` except ${selection.exclude.join(', ')}` : '';
  const summary = `updating ${what}${but} with ${manager}`;
  switch (manager) {
    case 'apt-get': {
      const refresh = { argv: ['apt-get', 'update'], env: APT_ENV };
      if (onlySome) {
        const upgrade = ['apt-get', '-y', ...DPKG_OPTIONS, 'install', '--only-upgrade', ...include];
        return { commands: [refresh, { argv: upgrade, env: APT_ENV }], cleanup: [], summary };
      }
      // apt-get has no --exclude: hold the excluded packages for this run, then release only the holds we added.
      const held = new Set(facts?.alreadyHeld ?? []);
      const toHold = (facts?.installedExcluded ?? selection.exclude).filter((p) => !held.has(p));
      const upgrade = { argv: ['apt-get', '-y', ...DPKG_OPTIONS, 'upgrade'], env: APT_ENV };
      if (toHold.length === 0) return { commands: [refresh, upgrade], cleanup: [], summary };
      return {
        commands: [refresh, { argv: ['apt-mark', 'hold', ...toHold] }, upgrade],
        cleanup: [{ argv: ['apt-mark', 'unhold', ...toHold] }],
        summary,
      };
    }
    case 'dnf':
    case 'yum': {
      const verb = manager === 'dnf' ? 'upgrade' : 'update';
      // --exclude is kept even with include: it also filters globs such as kernel* out of the include list.
      const excludes = selection.exclude.map((p) => `--exclude=${p}`);
      return { commands: [{ argv: [manager, '-y', verb, ...excludes, ...(onlySome ? include : [])] }], cleanup: [], summary };
    }
    case 'apk': {
      if (!onlySome && selection.exclude.length > 0) {
        throw new ActionFailure(
          'UpdateOS: apk cannot exclude packages from an upgrade; list the packages to update in include instead',
        );
      }
      const upgrade = onlySome ? ['apk', 'add', '-u', ...include] : ['apk', 'upgrade'];
      return { commands: [{ argv: ['apk', 'update'] }, { argv: upgrade }], cleanup: [], summary };
    }
  }
}

/** Finds the first package manager on the instance's PATH (`command -v`, the POSIX way to ask). */
export async function detectPackageManager(instance: Instance, signal?: AbortSignal): Promise<PackageManager | undefined> {
  for (const manager of PACKAGE_MANAGERS) {
    const result = await instance.exec(['/bin/sh', '-c', 'command -v "$1"', 'sh', manager], signal ? { signal } : {});
    if (result.exitCode === 0 && result.stdout.trim() !== '') return manager;
  }
  return undefined;
}

/** Reads what the apt plan needs: which excluded packages are installed, which are already held. */
async function gatherAptFacts(instance: Instance, exclude: string[], signal: AbortSignal): Promise<AptFacts> {
  const query = await instance.exec(dpkgQueryArgv(exclude), { signal });
  const holds = await instance.exec(['apt-mark', 'showhold'], { signal });
  return { installedExcluded: parseDpkgInstalled(query.stdout), alreadyHeld: parseLines(holds.stdout) };
}

function coerce(inputs: unknown): PackageSelection {
  const issues: Issue[] = [];
  const value = applyFields(fields, inputs ?? {}, 'inputs', false, issues);
  if (issues.length > 0) throw new ActionFailure(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return value as unknown as PackageSelection;
}

/** How long cleanup (releasing apt holds) may take once the step itself was cut short. */
const CLEANUP_TIMEOUT_MS = 120_000;

async function runCommand(
  context: ActionContext,
  command: PlannedCommand,
  timeoutMs: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  const line = command.argv.join(' ');
  context.log.info(`UpdateOS: ${line}`);
  const result = await context.instance.exec(command.argv, {
    ...(command.env ? { env: command.env } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    signal,
    onStdout: (chunk) => context.log.stdout(chunk),
    onStderr: (chunk) => context.log.stderr(chunk),
  });
  if (result.spawnError !== undefined) throw new ActionFailure(`UpdateOS: could not run ${line}: ${result.spawnError}`);
  if (result.timedOut) throw new ActionFailure(`UpdateOS: ${line} timed out`);
  if (result.aborted) throw new ActionFailure(`UpdateOS: ${line} was cancelled`);
  if (result.exitCode !== 0) {
    const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.exitCode}`;
    throw new ActionFailure(`UpdateOS: ${line} ${how}`);
  }
}

/** UpdateOS: installs available OS updates with the instance's package manager (Linux only in Kiln). */
export const updateOs: ActionModule = {
  name: 'UpdateOS',
  platforms: ['linux', 'windows'],
  // AWSTOE accepts UpdateOS with no inputs at all, which the 'object' shape refuses, so fields are checked here.
  inputShape: 'none',
  fields,
  validate(inputs, path) {
    if (inputs === undefined || inputs === null) return [];
    const issues: Issue[] = [];
    applyFields(fields, inputs, path, true, issues);
    return issues;
  },
  async run(inputs, context) {
    const selection = coerce(inputs);
    const { instance, signal, log } = context;
    if (instance.platform !== 'linux') {
      const os = instance.platform === 'windows' ? 'Windows' : 'macOS';
      throw new ActionFailure(`UpdateOS is not supported on ${os} instances in Kiln`);
    }
    const manager = await detectPackageManager(instance, signal);
    if (manager === undefined) {
      throw new ActionFailure(`UpdateOS: no supported package manager (${PACKAGE_MANAGERS.join(', ')}) found on the instance`);
    }
    const needsFacts = manager === 'apt-get' && selection.include.length === 0 && selection.exclude.length > 0;
    const facts = needsFacts ? await gatherAptFacts(instance, selection.exclude, signal) : undefined;
    const plan = planUpdate(manager, selection, facts);
    log.info(`UpdateOS: ${plan.summary}`);

    const deadline = context.timeoutMs === undefined ? undefined : Date.now() + context.timeoutMs;
    const remaining = () => (deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));
    let failure: unknown;
    try {
      for (const command of plan.commands) await runCommand(context, command, remaining(), signal);
    } catch (err) {
      failure = err;
    }
    for (const command of plan.cleanup) {
      try {
        // The step's own signal may already be aborted; holds must be released regardless.
        await runCommand(context, command, CLEANUP_TIMEOUT_MS, new AbortController().signal);
      } catch (err) {
        log.info(`UpdateOS: cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return { outputs: {} };
  },
};
