import type { Issue } from '../../domain/errors.js';
import { hasTemplate, isRecord } from './fields.js';
import { parseS3Uri } from './s3-config.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';

/**
 * Kiln drives Linux instances only, so these modules check their inputs as AWSTOE does (a Windows document
 * validates in Kiln exactly when it would on AWS) and then fail when a step actually runs.
 */
function unsupported(name: string, context: ActionContext): ActionFailure {
  const where = { linux: 'Linux', macos: 'macOS', windows: 'Windows instances in Kiln yet' }[context.instance.platform];
  return new ActionFailure(`${name} is not supported on ${where}`);
}

function failOnIssues(issues: Issue[]): void {
  if (issues.length > 0) throw new ActionFailure(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
}

const given = (value: unknown): boolean => value !== undefined && value !== null;

const nonEmpty = (value: unknown): string | undefined => (String(value).trim() === '' ? 'must not be empty' : undefined);

// ExecutePowerShell --------------------------------------------------------------------------------------------

const powerShellFields: Record<string, FieldSpec> = {
  commands: {
    type: 'stringList',
    check: (v) => ((v as string[]).length === 0 ? 'must list at least one command' : undefined),
  },
  file: {
    type: 'string',
    check: (v) => (/\.ps1$/i.test(String(v).trim()) ? undefined : `must be the path of a .ps1 script, got ${JSON.stringify(v)}`),
  },
};

/** AWSTOE: "Must specify commands or file, not both." */
function powerShellCrossCheck(inputs: unknown, path: string): Issue[] {
  if (!isRecord(inputs)) return [];
  const hasCommands = given(inputs.commands);
  const hasFile = given(inputs.file);
  if (hasCommands && hasFile) return [{ path, message: 'give either commands or file, not both' }];
  if (!hasCommands && !hasFile) return [{ path, message: 'ExecutePowerShell requires commands or file' }];
  return [];
}

/** ExecutePowerShell: runs PowerShell commands or a .ps1 file (Windows only). */
export const executePowerShell: ActionModule = {
  name: 'ExecutePowerShell',
  platforms: ['windows'],
  inputShape: 'object',
  fields: powerShellFields,
  validate: powerShellCrossCheck,
  async run(inputs, context) {
    failOnIssues(powerShellCrossCheck(inputs, 'inputs'));
    throw unsupported('ExecutePowerShell', context);
  },
};

// InstallMSI / UninstallMSI ------------------------------------------------------------------------------------

function checkMsiPath(value: unknown): string | undefined {
  const path = String(value).trim();
  if (path === '') return 'must not be empty';
  // Web URLs are not parsed further: documents commonly carry placeholders such as https://<some-path>/x.msi.
  if (/^s3:\/\//i.test(path)) {
    const location = parseS3Uri(path);
    if (location === undefined || location.key === '' || location.key.endsWith('/')) {
      return `must name an MSI object such as s3://bucket/installer.msi, got ${JSON.stringify(value)}`;
    }
  }
  return undefined;
}

/** Set from the `reboot` input, so a document may not set them itself. */
const RESERVED_MSI_PROPERTIES = ['REBOOT', 'REBOOTPROMPT'];

function checkMsiProperties(value: unknown): string | undefined {
  for (const [name, setting] of Object.entries(value as Record<string, unknown>)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) return `${JSON.stringify(name)} is not an MSI property name`;
    if (RESERVED_MSI_PROPERTIES.includes(name.toUpperCase())) {
      return `${name} cannot be set in properties; use the reboot input (Allow, Force, Skip)`;
    }
    if (!['string', 'number', 'boolean'].includes(typeof setting)) return `${name} must be a string value`;
  }
  return undefined;
}

const msiFields: Record<string, FieldSpec> = {
  path: { type: 'string', required: true, check: checkMsiPath },
  reboot: { type: 'string', enum: ['Allow', 'Force', 'Skip'], default: 'Allow' },
  logOptions: {
    type: 'string',
    default: '*VX',
    check: (v) => (/^[iwearucmopvx+!*]+$/i.test(String(v)) ? undefined : `must be msiexec /L flags (i w e a r u c m o p v x + ! *), got ${JSON.stringify(v)}`),
  },
  logFile: { type: 'string', check: nonEmpty },
  properties: { type: 'map', check: checkMsiProperties },
  ignoreAuthenticodeSignatureErrors: { type: 'boolean', default: false },
  allowUnsignedInstaller: { type: 'boolean', default: false },
};

function msiModule(name: 'InstallMSI' | 'UninstallMSI'): ActionModule {
  return {
    name,
    platforms: ['windows'],
    inputShape: 'object',
    fields: msiFields,
    async run(_inputs, context) {
      throw unsupported(name, context);
    },
  };
}

/** InstallMSI: installs an MSI from a local path, s3:// or https:// (Windows only). */
export const installMsi: ActionModule = msiModule('InstallMSI');

/** UninstallMSI: removes the product of an MSI (Windows only). */
export const uninstallMsi: ActionModule = msiModule('UninstallMSI');

// SetRegistry --------------------------------------------------------------------------------------------------

const HIVE = /^(HKCR|HKU|HKLM|HKCC|HKCU|HKEY_CLASSES_ROOT|HKEY_USERS|HKEY_LOCAL_MACHINE|HKEY_CURRENT_CONFIG|HKEY_CURRENT_USER):?(\\|$)/i;

const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

const registryFields: Record<string, FieldSpec> = {
  path: {
    type: 'string',
    required: true,
    check: (v) =>
      HIVE.test(String(v).trim())
        ? undefined
        : `must start with a registry hive (HKLM:\\, HKCU:\\, HKCR:\\, HKU:\\, HKCC:\\ or HKEY_...\\), got ${JSON.stringify(v)}`,
  },
  name: { type: 'string', required: true },
  // AWSTOE takes a string, a number or a list (MULTI_SZ, BINARY bytes) and converts per type when it runs.
  value: {
    type: 'any',
    required: true,
    check: (v) =>
      isScalar(v) || (Array.isArray(v) && v.every((e) => isScalar(e) || hasTemplate(e)))
        ? undefined
        : 'must be a string, a number or a list of them',
  },
  type: { type: 'string', required: true, enum: ['BINARY', 'DWORD', 'QWORD', 'SZ', 'EXPAND_SZ', 'MULTI_SZ'] },
};

/** SetRegistry: sets registry values (Windows only). */
export const setRegistry: ActionModule = {
  name: 'SetRegistry',
  platforms: ['windows'],
  inputShape: 'list',
  fields: registryFields,
  async run(_inputs, context) {
    throw unsupported('SetRegistry', context);
  },
};
