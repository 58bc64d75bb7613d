import { validationError, type Issue } from '../../domain/errors.js';
import { applyShape, isRecord } from '../actions/fields.js';
import type { ActionModule } from '../actions/types.js';
import { checkExpression, parseConditional } from './conditions.js';
import { parseLoop } from './loops.js';
import {
  DEFAULT_TIMEOUT_SECONDS,
  type ComponentDocument,
  type ConstantDef,
  type OnFailure,
  type ParameterDef,
  type PhaseDef,
  type StepDef,
} from './model.js';
import { parseYaml } from './parse.js';
import { referencesIn, stringsIn, type Reference } from './variables.js';

export type ModuleRegistry = ReadonlyMap<string, ActionModule>;

const TOP_KEYS = ['name', 'description', 'schemaVersion', 'parameters', 'constants', 'phases'];
const STEP_KEYS = ['name', 'action', 'inputs', 'onFailure', 'timeoutSeconds', 'maxAttempts', 'if', 'loop'];
const VARIABLE_NAME = /^[A-Za-z0-9_-]{3,128}$/;
const ON_FAILURE: readonly OnFailure[] = ['Abort', 'Continue', 'Ignore'];
const REQUIRED_PHASES = ['build', 'validate', 'test'];
/** Modules whose step-level timeout and attempts AWSTOE fixes, whatever the document says. */
const FIXED_TIMEOUT: Record<string, number> = { ExecuteDocument: -1, Reboot: -1 };

export interface ValidationResult {
  document: ComponentDocument | undefined;
  issues: Issue[];
}

/** Parses and validates document text; the document is returned only when there is no issue. */
export function validateDocumentText(text: string, modules: ModuleRegistry): ValidationResult {
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) return { document: undefined, issues: parsed.issues };
  return validateDocument(parsed.value, modules);
}

/** Like validateDocumentText, but throws one InvalidArgument error listing every issue. */
export function loadDocument(text: string, modules: ModuleRegistry, source = 'document'): ComponentDocument {
  const { document, issues } = validateDocumentText(text, modules);
  if (!document) throw validationError(source, issues);
  return document;
}

/** Validates a parsed document: structure, every step's inputs, and every `{{ }}` reference. */
export function validateDocument(raw: unknown, modules: ModuleRegistry): ValidationResult {
  const issues: Issue[] = [];
  if (!isRecord(raw)) {
    return { document: undefined, issues: [{ path: '', message: 'a component document must be a YAML or JSON map' }] };
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) issues.push({ path: key, message: `unknown key; expected one of: ${TOP_KEYS.join(', ')}` });
  }
  const name = optionalString(raw, 'name', '', issues);
  const description = optionalString(raw, 'description', '', issues);
  const schemaVersion = checkSchemaVersion(raw.schemaVersion, issues);
  const parameters = checkParameters(raw.parameters, issues);
  const constants = checkConstants(raw.constants, issues);
  const seen = new Set<string>();
  for (const [i, v] of [...parameters, ...constants].entries()) {
    if (seen.has(v.name)) {
      const where = i < parameters.length ? 'parameters' : 'constants';
      issues.push({ path: where, message: `"${v.name}" is defined more than once across parameters and constants` });
    }
    seen.add(v.name);
  }
  const phases = checkPhases(raw.phases, modules, issues);
  checkReferences(phases, new Set(seen), issues);
  if (issues.length > 0) return { document: undefined, issues };
  return { document: { name, description, schemaVersion, parameters, constants, phases }, issues };
}

function optionalString(map: Record<string, unknown>, key: string, prefix: string, issues: Issue[]): string | undefined {
  const v = map[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    issues.push({ path: `${prefix}${key}`, message: 'must be a string' });
    return undefined;
  }
  return v;
}

function checkSchemaVersion(v: unknown, issues: Issue[]): string {
  if (v === undefined || v === null) issues.push({ path: 'schemaVersion', message: 'is required (1.0)' });
  else if (!(v === 1 || v === '1' || v === '1.0')) {
    issues.push({ path: 'schemaVersion', message: `unsupported schema version ${JSON.stringify(v)}; expected 1.0` });
  }
  return '1.0';
}

/** Parameters and constants are lists of single-key maps: `- Name: {type: string, …}`. */
function singleKeyEntries(v: unknown, where: string, issues: Issue[]): [string, Record<string, unknown>, string][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.push({ path: where, message: 'must be a list of single-key maps, e.g. "- MyName: {type: string}"' });
    return [];
  }
  const out: [string, Record<string, unknown>, string][] = [];
  v.forEach((entry, i) => {
    const path = `${where}[${i}]`;
    if (!isRecord(entry) || Object.keys(entry).length !== 1) {
      issues.push({ path, message: 'must be a map with exactly one key, the name, e.g. "- MyName: {type: string}"' });
      return;
    }
    const [key, body] = Object.entries(entry)[0]!;
    if (!VARIABLE_NAME.test(key)) {
      issues.push({ path: `${path}.${key}`, message: 'names are 3-128 characters of letters, digits, "_" or "-"' });
    }
    if (!isRecord(body)) {
      issues.push({ path: `${path}.${key}`, message: 'must be a map with type and default/value' });
      return;
    }
    out.push([key, body, `${path}.${key}`]);
  });
  return out;
}

function checkKeys(body: Record<string, unknown>, allowed: string[], path: string, issues: Issue[]): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) issues.push({ path: `${path}.${k}`, message: `unknown key; expected one of: ${allowed.join(', ')}` });
  }
}

function checkType(body: Record<string, unknown>, path: string, issues: Issue[]): void {
  if (body.type === undefined) issues.push({ path: `${path}.type`, message: 'is required (string)' });
  else if (body.type !== 'string') issues.push({ path: `${path}.type`, message: `must be "string", got ${JSON.stringify(body.type)}` });
}

function scalarText(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function checkParameters(v: unknown, issues: Issue[]): ParameterDef[] {
  return singleKeyEntries(v, 'parameters', issues).map(([name, body, path]) => {
    checkKeys(body, ['type', 'default', 'description', 'allowedValues'], path, issues);
    checkType(body, path, issues);
    let def: string | undefined;
    if (body.default !== undefined && body.default !== null) {
      def = scalarText(body.default);
      if (def === undefined) issues.push({ path: `${path}.default`, message: 'must be a string' });
    }
    let allowedValues: string[] | undefined;
    if (body.allowedValues !== undefined) {
      const list = Array.isArray(body.allowedValues) ? body.allowedValues.map(scalarText) : [];
      if (list.length === 0 || list.some((v) => v === undefined)) {
        issues.push({ path: `${path}.allowedValues`, message: 'must be a non-empty list of strings' });
      } else {
        allowedValues = list as string[];
        if (def !== undefined && !allowedValues.includes(def)) {
          issues.push({ path: `${path}.default`, message: `${JSON.stringify(def)} is not one of allowedValues` });
        }
      }
    }
    const description = optionalString(body, 'description', `${path}.`, issues);
    return { name, type: 'string', default: def, description, allowedValues };
  });
}

function checkConstants(v: unknown, issues: Issue[]): ConstantDef[] {
  return singleKeyEntries(v, 'constants', issues).map(([name, body, path]) => {
    checkKeys(body, ['type', 'value', 'description'], path, issues);
    checkType(body, path, issues);
    const value = scalarText(body.value);
    if (value === undefined) issues.push({ path: `${path}.value`, message: 'is required and must be a string' });
    return { name, value: value ?? '' };
  });
}

function checkPhases(v: unknown, modules: ModuleRegistry, issues: Issue[]): PhaseDef[] {
  if (!Array.isArray(v) || v.length === 0) {
    issues.push({ path: 'phases', message: 'is required: a non-empty list of phases (build, validate, test)' });
    return [];
  }
  const phases: PhaseDef[] = [];
  const names = new Set<string>();
  v.forEach((raw, i) => {
    const path = `phases[${i}]`;
    if (!isRecord(raw)) {
      issues.push({ path, message: 'must be a map with name and steps' });
      return;
    }
    checkKeys(raw, ['name', 'steps'], path, issues);
    if (typeof raw.name !== 'string' || raw.name === '') {
      issues.push({ path: `${path}.name`, message: 'is required: build, validate, test or container-host-test' });
      return;
    }
    if (names.has(raw.name)) issues.push({ path: `${path}.name`, message: `phase "${raw.name}" appears more than once` });
    names.add(raw.name);
    const steps = raw.steps === null || raw.steps === undefined ? undefined : raw.steps;
    if (!Array.isArray(steps)) {
      issues.push({ path: `${path}.steps`, message: 'is required: a list of steps' });
      return;
    }
    const stepNames = new Set<string>();
    const defs: StepDef[] = [];
    steps.forEach((s, j) => {
      const stepName = isRecord(s) && typeof s.name === 'string' ? s.name : undefined;
      if (stepName !== undefined && stepNames.has(stepName)) {
        issues.push({ path: `${path}.steps[${j}].name`, message: `step name "${stepName}" is used twice in phase "${raw.name}"` });
      }
      if (stepName !== undefined) stepNames.add(stepName);
      const step = checkStep(s, `${path}.steps[${j}]`, modules, issues);
      if (step) defs.push(step);
    });
    phases.push({ name: raw.name, steps: defs });
  });
  if (!phases.some((p) => REQUIRED_PHASES.includes(p.name)) && issues.length === 0) {
    issues.push({ path: 'phases', message: 'must include at least one of the phases build, validate or test' });
  }
  return phases;
}

function intValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

function checkStep(raw: unknown, path: string, modules: ModuleRegistry, issues: Issue[]): StepDef | undefined {
  if (!isRecord(raw)) {
    issues.push({ path, message: 'a step must be a map with name, action and inputs' });
    return undefined;
  }
  checkKeys(raw, STEP_KEYS, path, issues);
  const before = issues.length;
  if (typeof raw.name !== 'string' || raw.name.trim() === '') issues.push({ path: `${path}.name`, message: 'is required' });
  else if (!/^[A-Za-z0-9_-]{1,128}$/.test(raw.name)) {
    issues.push({ path: `${path}.name`, message: 'must be 1-128 characters of letters, digits, "_" or "-"' });
  }
  let module: ActionModule | undefined;
  if (typeof raw.action !== 'string' || raw.action === '') issues.push({ path: `${path}.action`, message: 'is required' });
  else {
    module = modules.get(raw.action);
    if (!module) issues.push({ path: `${path}.action`, message: `unknown action module "${raw.action}"` });
  }
  let onFailure: OnFailure = 'Abort';
  if (raw.onFailure !== undefined) {
    const match = ON_FAILURE.find((o) => typeof raw.onFailure === 'string' && o.toLowerCase() === raw.onFailure.toLowerCase());
    if (!match) issues.push({ path: `${path}.onFailure`, message: `must be one of ${ON_FAILURE.join(', ')}, got ${JSON.stringify(raw.onFailure)}` });
    else onFailure = match;
  }
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (raw.timeoutSeconds !== undefined) {
    const t = intValue(raw.timeoutSeconds);
    if (t === undefined || (t <= 0 && t !== -1)) {
      issues.push({ path: `${path}.timeoutSeconds`, message: `must be a positive integer or -1 (no limit), got ${JSON.stringify(raw.timeoutSeconds)}` });
    } else timeoutSeconds = t;
  }
  let maxAttempts = 1;
  if (raw.maxAttempts !== undefined) {
    const m = intValue(raw.maxAttempts);
    if (m === undefined || m < 1) issues.push({ path: `${path}.maxAttempts`, message: `must be an integer of at least 1, got ${JSON.stringify(raw.maxAttempts)}` });
    else maxAttempts = m;
  }
  const condition = raw.if === undefined ? undefined : parseConditional(raw.if, `${path}.if`, issues);
  const loop = raw.loop === undefined ? undefined : parseLoop(raw.loop, `${path}.loop`, issues);
  if (module) {
    if (module.inputShape === 'expression') issues.push(...checkExpression(raw.inputs, `${path}.inputs`));
    else applyShape(module, raw.inputs, `${path}.inputs`, true, issues);
    issues.push(...(module.validate?.(raw.inputs, `${path}.inputs`) ?? []));
    if (module.name in FIXED_TIMEOUT) {
      timeoutSeconds = FIXED_TIMEOUT[module.name]!;
      if (module.name === 'ExecuteDocument') maxAttempts = 1;
    }
  }
  if (issues.length > before || !module) return undefined;
  return {
    name: raw.name as string,
    action: module.name,
    module,
    inputs: raw.inputs,
    onFailure,
    timeoutSeconds,
    maxAttempts,
    condition,
    loop,
    path,
  };
}

/** Every `{{ }}` must name a parameter, a constant, the step's own loop, or an earlier step's inputs/outputs. */
function checkReferences(phases: PhaseDef[], variables: Set<string>, issues: Issue[]): void {
  const earlier = new Map<string, StepDef>();
  for (const phase of phases) {
    for (const step of phase.steps) {
      const places: [unknown, string][] = [
        [step.inputs, `${step.path}.inputs`],
        [step.loop?.raw, `${step.path}.loop`],
        [step.condition?.expression, `${step.path}.if`],
      ];
      for (const [value, base] of places) {
        for (const [text, path] of stringsIn(value, base)) {
          for (const ref of referencesIn(text)) {
            const problem = referenceProblem(ref, step, base.endsWith('.loop'), variables, earlier, phase.name);
            if (problem) issues.push({ path, message: problem });
          }
        }
      }
      earlier.set(`${phase.name}.${step.name}`, step);
    }
  }
}

function referenceProblem(
  ref: Reference,
  step: StepDef,
  inLoopSpec: boolean,
  variables: Set<string>,
  earlier: Map<string, StepDef>,
  phaseName: string,
): string | undefined {
  switch (ref.kind) {
    case 'invalid':
      return `"{{ ${ref.text} }}" is not a valid reference: use {{ Name }}, {{ phase.step.inputs.x }}, {{ phase.step.outputs.x }} or {{ loop.value }}`;
    case 'name':
      return variables.has(ref.name) ? undefined : `"{{ ${ref.text} }}" refers to an unknown parameter or constant "${ref.name}"`;
    case 'loop': {
      const own = step.loop && (ref.loop === 'loop' || ref.loop === step.loop.name);
      if (own && !inLoopSpec) return undefined;
      if (own) return `"{{ ${ref.text} }}" cannot be used inside the loop's own definition`;
      return ref.loop === 'loop' || !step.loop
        ? `"{{ ${ref.text} }}" is used in step "${step.name}", which has no loop`
        : `"{{ ${ref.text} }}" refers to loop "${ref.loop}", but this step's loop is ${step.loop.name ? `"${step.loop.name}"` : 'unnamed'}`;
    }
    case 'chain': {
      if (inLoopSpec && step.loop?.raw.for !== undefined) return `"{{ ${ref.text} }}": for loops cannot use chained values`;
      if (ref.phase === phaseName && ref.step === step.name) return `"{{ ${ref.text} }}" refers to its own step`;
      if (!earlier.has(`${ref.phase}.${ref.step}`)) {
        return `"{{ ${ref.text} }}" refers to step "${ref.step}" of phase "${ref.phase}", which does not run before this step`;
      }
      if (ref.section === 'inputs' && ref.field === undefined && ref.index === undefined) {
        return `"{{ ${ref.text} }}" must name an input, e.g. ${ref.phase}.${ref.step}.inputs.path`;
      }
      if (ref.section === 'outputs' && ref.field === undefined) {
        return `"{{ ${ref.text} }}" must name an output, e.g. ${ref.phase}.${ref.step}.outputs.stdout`;
      }
      return undefined;
    }
  }
}
