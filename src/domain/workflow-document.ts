/**
 * Structural validation of Image Builder workflow documents (YAML or JSON): top-level keys, parameters, up to
 * 15 steps with known actions allowed in the workflow's stage, `if` conditions, timeouts within each action's
 * maximum, and JSONPath references to declared parameters and earlier steps. Every problem comes back with
 * its path; nothing is executed.
 */
import { parseDocument } from 'yaml';
import type { Issue } from './errors.js';
import { isJsonObject } from './json.js';

export type WorkflowType = 'BUILD' | 'TEST' | 'DISTRIBUTION';

/** A parameter as GetWorkflow reports it. */
export interface WorkflowParameterDetail {
  name: string;
  type: string;
  defaultValue?: string[];
  description?: string;
}

const HOUR = 3600;
const DAY = 86_400;

/** Each action's stages (B, T, D) and maximum timeout in seconds, from AWS's step-action reference. */
const ACTIONS: Record<string, { stages: string; maxTimeout: number; required?: string[] }> = {
  LaunchInstance: { stages: 'BTD', maxTimeout: 12 * HOUR, required: ['waitFor'] },
  ExecuteComponents: { stages: 'BT', maxTimeout: DAY },
  BootstrapInstanceForContainer: { stages: 'BTD', maxTimeout: 12 * HOUR },
  CollectImageMetadata: { stages: 'B', maxTimeout: 12 * HOUR },
  CollectImageScanFindings: { stages: 'T', maxTimeout: 12 * HOUR },
  SanitizeInstance: { stages: 'BTD', maxTimeout: 12 * HOUR },
  RunSysPrep: { stages: 'BTD', maxTimeout: 12 * HOUR },
  CreateImage: { stages: 'BTD', maxTimeout: 3 * DAY },
  CreateImageFromIso: { stages: 'BTD', maxTimeout: 12 * HOUR },
  RegisterImage: { stages: 'BTD', maxTimeout: 12 * HOUR },
  RunCommand: { stages: 'BTD', maxTimeout: 12 * HOUR },
  WaitForSSMAgent: { stages: 'BTD', maxTimeout: 3 * HOUR },
  WaitForAction: { stages: 'BTD', maxTimeout: 7 * DAY },
  ExecuteStateMachine: { stages: 'BTD', maxTimeout: DAY },
  TerminateInstance: { stages: 'BTD', maxTimeout: 12 * HOUR },
  DistributeImage: { stages: 'D', maxTimeout: 12 * HOUR },
  ModifyImageAttributes: { stages: 'D', maxTimeout: 3 * HOUR },
  ApplyImageConfigurations: { stages: 'D', maxTimeout: 12 * HOUR },
  DistributeContainerImage: { stages: 'D', maxTimeout: 12 * HOUR },
};

/** AWS actions Kiln refuses at create, with the reason; the engine has nothing to run them on. */
const UNSUPPORTED: Record<string, string> = {
  RunSysPrep: 'Kiln builds Linux images only; there is no Windows instance to run Sysprep on',
  CreateImageFromIso: 'Kiln has no ISO installs (ImportDiskImage is not supported either)',
  RegisterImage: 'Kiln stores images from an instance (CreateImage); it has no snapshots to register one from',
  ExecuteStateMachine: 'Kiln has no Step Functions state machines to call',
};

const TOP_KEYS = new Set(['name', 'description', 'schemaVersion', 'parameters', 'steps', 'outputs']);
const STEP_KEYS = new Set(['name', 'action', 'description', 'inputs', 'if', 'onFailure', 'rollbackEnabled', 'timeoutSeconds']);
const PARAM_TYPES = new Set(['string', 'integer', 'boolean', 'stringList']);
const STEP_NAME_RE = /^[A-Za-z0-9_]{3,128}$/;
const MAX_STEPS = 15;
const COMPARISONS = new Set(['booleanEquals', 'numberEquals', 'numberGreaterThan', 'numberGreaterThanEquals', 'numberLessThan', 'numberLessThanEquals', 'stringEquals']);
const SYSTEM_VARIABLES = new Set([
  'cloudWatchLogGroup', 'cloudWatchLogStream', 'collectImageMetadata', 'collectImageScanFindings', 'imageBuildNumber', 'imageId', 'imageName',
  'imageType', 'imageVersionNumber', 'instanceProfileName', 'platform', 's3Logs', 'securityGroups', 'sourceImageARN', 'subnetId',
  'terminateInstanceOnFailure', 'workflowPhase', 'workingDirectory',
]);
const STAGE_LETTER: Record<WorkflowType, string> = { BUILD: 'B', TEST: 'T', DISTRIBUTION: 'D' };
// Matches both `key.$: $.x.y` values and `{{ $.x.y }}` interpolations; only the first key after the node is checked.
const REFERENCE_RE = /\$\.(parameters|stepOutputs|workflowOutputs|imagebuilder)(?:\.([A-Za-z0-9_]+))?/g;


function checkParameters(value: unknown, issues: Issue[]): WorkflowParameterDetail[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push({ path: 'parameters', message: 'must be a list' });
    return [];
  }
  const out: WorkflowParameterDetail[] = [];
  const seen = new Set<string>();
  value.forEach((p: unknown, i) => {
    const path = `parameters[${i}]`;
    if (!isJsonObject(p)) return issues.push({ path, message: 'must be a mapping with name and type' });
    for (const k of Object.keys(p)) if (!['name', 'type', 'default', 'description'].includes(k)) issues.push({ path: `${path}.${k}`, message: 'is not a parameter key (name, type, default, description)' });
    const name = p.name;
    const type = p.type;
    if (typeof name !== 'string' || name === '') issues.push({ path: `${path}.name`, message: 'is required' });
    else if (seen.has(name)) issues.push({ path: `${path}.name`, message: `"${name}" is declared twice` });
    else seen.add(name);
    if (typeof type !== 'string' || !PARAM_TYPES.has(type)) issues.push({ path: `${path}.type`, message: 'must be string, integer, boolean or stringList' });
    const d = p.default;
    if (d !== undefined && typeof type === 'string') {
      const ok = type === 'string' ? typeof d === 'string' : type === 'integer' ? Number.isInteger(d) : type === 'boolean' ? typeof d === 'boolean' : Array.isArray(d) && d.every((x) => typeof x === 'string');
      if (!ok) issues.push({ path: `${path}.default`, message: `does not match type ${type}` });
    }
    if (typeof name === 'string' && typeof type === 'string') {
      out.push({
        name,
        type,
        ...(d === undefined ? {} : { defaultValue: Array.isArray(d) ? d.map(String) : [String(d)] }),
        ...(typeof p.description === 'string' ? { description: p.description } : {}),
      });
    }
  });
  return out;
}

function checkCondition(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return void issues.push({ path, message: 'must be a mapping with one operator (and, or, not, booleanEquals, stringEquals, ...)' });
  const ops = Object.keys(value).filter((k) => k !== 'value');
  if (ops.length !== 1) return void issues.push({ path, message: `must have exactly one operator, found ${ops.length === 0 ? 'none' : ops.join(', ')}` });
  const op = ops[0]!;
  const operand = value[op];
  if (op === 'and' || op === 'or') {
    if (!Array.isArray(operand) || operand.length === 0) return void issues.push({ path: `${path}.${op}`, message: 'must be a non-empty list of conditions' });
    operand.forEach((c: unknown, i) => checkCondition(c, `${path}.${op}[${i}]`, issues));
  } else if (op === 'not') {
    checkCondition(operand, `${path}.not`, issues);
  } else if (COMPARISONS.has(op)) {
    if (!('value' in value)) issues.push({ path, message: `${op} needs a 'value' to compare with` });
    const want = op === 'booleanEquals' ? 'boolean' : op === 'stringEquals' ? 'string' : 'number';
    if (typeof operand !== want && !(typeof operand === 'string' && operand.startsWith('$.'))) issues.push({ path: `${path}.${op}`, message: `must be a ${want}` });
  } else {
    issues.push({ path: `${path}.${op}`, message: `is not a condition operator (and, or, not, ${[...COMPARISONS].join(', ')})` });
  }
}

/** Visits every string in a value with its path, so references can be checked wherever they appear. */
function eachString(value: unknown, path: string, visit: (text: string, path: string) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => eachString(v, `${path}[${i}]`, visit));
  else if (isJsonObject(value)) for (const [k, v] of Object.entries(value)) eachString(v, `${path}.${k}`, visit);
}

function checkReferences(value: unknown, path: string, params: Set<string>, earlier: Set<string>, issues: Issue[]): void {
  eachString(value, path, (text, at) => {
    for (const m of text.matchAll(REFERENCE_RE)) {
      const [, node, name] = m;
      if (name === undefined) continue;
      if (node === 'parameters' && !params.has(name)) issues.push({ path: at, message: `refers to parameter "${name}", which is not declared` });
      if (node === 'stepOutputs' && !earlier.has(name)) issues.push({ path: at, message: `refers to step "${name}", which is not an earlier step` });
      if (node === 'imagebuilder' && !SYSTEM_VARIABLES.has(name)) issues.push({ path: at, message: `refers to "$.imagebuilder.${name}", which is not a system variable` });
    }
  });
}

function checkSteps(value: unknown, type: WorkflowType, params: Set<string>, issues: Issue[]): void {
  if (!Array.isArray(value) || value.length === 0) return void issues.push({ path: 'steps', message: 'is required: a non-empty list of steps' });
  if (value.length > MAX_STEPS) issues.push({ path: 'steps', message: `has ${value.length} steps; the limit is ${MAX_STEPS}` });
  const earlier = new Set<string>();
  value.forEach((step: unknown, i) => {
    const path = `steps[${i}]`;
    if (!isJsonObject(step)) return issues.push({ path, message: 'must be a mapping with name and action' });
    for (const k of Object.keys(step)) if (!STEP_KEYS.has(k)) issues.push({ path: `${path}.${k}`, message: `is not a step key (${[...STEP_KEYS].join(', ')})` });
    const name = step.name;
    if (typeof name !== 'string' || !STEP_NAME_RE.test(name)) issues.push({ path: `${path}.name`, message: 'must be 3-128 letters, digits or _' });
    else if (earlier.has(name)) issues.push({ path: `${path}.name`, message: `"${name}" is used by an earlier step` });
    const action = typeof step.action === 'string' ? ACTIONS[step.action] : undefined;
    if (!action) issues.push({ path: `${path}.action`, message: `${JSON.stringify(step.action ?? null)} is not a workflow step action (${Object.keys(ACTIONS).join(', ')})` });
    else if (UNSUPPORTED[String(step.action)]) issues.push({ path: `${path}.action`, message: `Kiln does not run ${String(step.action)}: ${UNSUPPORTED[String(step.action)]}` });
    else if (!action.stages.includes(STAGE_LETTER[type])) issues.push({ path: `${path}.action`, message: `${String(step.action)} cannot run in a ${type} workflow` });
    if (step.inputs !== undefined && !isJsonObject(step.inputs)) issues.push({ path: `${path}.inputs`, message: 'must be a mapping' });
    for (const key of action?.required ?? []) {
      const inputs = isJsonObject(step.inputs) ? step.inputs : {};
      if (!(key in inputs) && !(`${key}.$` in inputs)) issues.push({ path: `${path}.inputs.${key}`, message: `is required by ${String(step.action)}` });
    }
    if (step.onFailure !== undefined && step.onFailure !== 'Abort' && step.onFailure !== 'Continue') issues.push({ path: `${path}.onFailure`, message: 'must be Abort or Continue' });
    const rb = step.rollbackEnabled;
    if (rb !== undefined && typeof rb !== 'boolean' && !(typeof rb === 'string' && rb.startsWith('$.'))) issues.push({ path: `${path}.rollbackEnabled`, message: 'must be a boolean or a JSONPath' });
    const timeout = step.timeoutSeconds;
    if (timeout !== undefined) {
      const max = Math.min(action?.maxTimeout ?? DAY, DAY * 7);
      if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > max) {
        issues.push({ path: `${path}.timeoutSeconds`, message: `must be an integer from 1 to ${max}${action ? ` (the maximum for ${String(step.action)})` : ''}` });
      }
    }
    if (step.if !== undefined) checkCondition(step.if, `${path}.if`, issues);
    checkReferences(step.inputs, `${path}.inputs`, params, earlier, issues);
    checkReferences(step.if, `${path}.if`, params, earlier, issues);
    if (typeof name === 'string') earlier.add(name);
  });
}

function checkOutputs(value: unknown, steps: Set<string>, params: Set<string>, issues: Issue[]): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) return void issues.push({ path: 'outputs', message: 'must be a list of {name, value}' });
  value.forEach((o: unknown, i) => {
    const path = `outputs[${i}]`;
    if (!isJsonObject(o) || typeof o.name !== 'string' || typeof o.value !== 'string') return issues.push({ path, message: 'must have a string name and a string value (a JSONPath)' });
    checkReferences(o.value, `${path}.value`, params, steps, issues);
  });
}

/** Validates a workflow document for a workflow of `type`; returns every issue and the declared parameters. */
export function inspectWorkflowDocument(text: string, type: WorkflowType): { issues: Issue[]; parameters: WorkflowParameterDetail[] } {
  const issues: Issue[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { issues: doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` })), parameters: [] };
  const root: unknown = doc.toJS();
  if (!isJsonObject(root)) return { issues: [{ path: '', message: 'must be a YAML or JSON mapping' }], parameters: [] };
  for (const k of Object.keys(root)) if (!TOP_KEYS.has(k)) issues.push({ path: k, message: `is not a workflow document key (${[...TOP_KEYS].join(', ')})` });
  if (root.schemaVersion === undefined) issues.push({ path: 'schemaVersion', message: 'is required (1.0)' });
  else if (String(root.schemaVersion) !== '1' && String(root.schemaVersion) !== '1.0') issues.push({ path: 'schemaVersion', message: `must be 1.0, not ${String(root.schemaVersion)}` });
  for (const k of ['name', 'description']) if (root[k] !== undefined && typeof root[k] !== 'string') issues.push({ path: k, message: 'must be a string' });
  const parameters = checkParameters(root.parameters, issues);
  const params = new Set(parameters.map((p) => p.name));
  checkSteps(root.steps, type, params, issues);
  const stepNames = new Set(Array.isArray(root.steps) ? root.steps.map((s: unknown) => (isJsonObject(s) && typeof s.name === 'string' ? s.name : '')) : []);
  checkOutputs(root.outputs, stepNames, params, issues);
  return { issues, parameters };
}
