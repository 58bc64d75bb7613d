import { errorMessage, isKilnError } from '../../domain/errors.js';
import { coerceInputs } from '../actions/fields.js';
import { ActionFailure, type ActionContext, type ActionResult, type NestedDocumentRequest, type NestedDocumentResult, type StepLogger } from '../actions/types.js';
import { evaluate, type StepAction } from '../document/conditions.js';
import { iterations, type Iteration } from '../document/loops.js';
import type { ComponentDocument, StepDef } from '../document/model.js';
import { loadDocument, type ModuleRegistry } from '../document/validate.js';
import { substitute, type Reference, type Resolver } from '../document/variables.js';
import type { Instance } from '../instance/instance.js';
import { LineAssembler, type LogLine, type OutputSink } from '../../logs/line-assembler.js';
import { loadLocalDocument, type DocumentInput, type DocumentLoader } from './documents.js';
import { LogFolder } from './log-folder.js';
import { combine, summarize, type DetailedOutput, type DocumentOutput, type PhaseOutput, type RunSummary, type StepOutput } from './results.js';
import { emptyState, StateStore, type ExecutionState } from './state.js';

/** AWSTOE allows documents to nest this deep through ExecuteDocument. */
export const MAX_NESTING = 3;
/** A step that keeps asking for a reboot fails after this many, instead of looping forever. */
export const DEFAULT_MAX_REBOOTS = 10;

export interface RunOptions {
  documents: DocumentInput[];
  /** Only these phases, in document order; all when undefined. */
  phases?: string[];
  /** Values for every document; names a document does not declare are ignored. */
  parameters?: Record<string, string>;
  executionId?: string;
  /** Where relative paths resolve and processes start (the recipe's workingDirectory); default: this process's. */
  workingDirectory?: string;
  /** The TOE_… folder is created inside this one. */
  logDirectory: string;
  /** Where state is kept so a run resumes after a reboot; without it a run cannot resume. */
  stateDirectory?: string;
  trace?: boolean;
  instance: Instance;
  modules: ModuleRegistry;
  signal?: AbortSignal;
  /**
   * Live output: step banners (stream info) and each step's output, a whole line at a time with its stream
   * (a partial line is held until its newline or the step's end, so stderr never splits a line of stdout).
   */
  onOutput?: OutputSink;
  loadDocument?: DocumentLoader;
  maxRebootsPerStep?: number;
}

export interface RunResult {
  detailed: DetailedOutput;
  summary: RunSummary;
  logFolder: string;
}

/** Checks every document and resolves its parameters before any step runs; throws an InvalidArgument error. */
function prepare(inputs: DocumentInput[], options: RunOptions): { doc: ComponentDocument; input: DocumentInput; values: Map<string, string> }[] {
  return inputs.map((input) => {
    const doc = loadDocument(input.text, options.modules, input.path);
    return { doc, input, values: resolveVariables(doc, input, { ...options.parameters, ...input.parameters }) };
  });
}

/** Parameter values (default ← given) and constants; a required parameter with no value is an error. */
export function resolveVariables(doc: ComponentDocument, input: DocumentInput, given: Record<string, string>): Map<string, string> {
  const values = new Map<string, string>();
  const missing: string[] = [];
  for (const p of doc.parameters) {
    const v = given[p.name] ?? p.default;
    if (v === undefined) missing.push(p.name);
    else if (p.allowedValues && !p.allowedValues.includes(v)) {
      throw new ActionFailure(`${input.path}: parameter ${p.name} is ${JSON.stringify(v)}, not one of ${p.allowedValues.join(', ')}`);
    } else values.set(p.name, v);
  }
  if (missing.length > 0) {
    throw new ActionFailure(`${input.path}: parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no default and no value was given (--parameters ${missing[0]}=…)`);
  }
  for (const c of doc.constants) values.set(c.name, c.value);
  return values;
}

function now(): string {
  return new Date().toISOString();
}

type Chaining = Map<string, { inputs: unknown; outputs: Record<string, string> }>;

/** Runs AWSTOE documents against an instance and writes the AWSTOE log folder. Never throws for a failed step. */
export async function runDocuments(options: RunOptions): Promise<RunResult> {
  const executionId = options.executionId ?? crypto.randomUUID();
  const started = new Date();
  const folder = await LogFolder.create(options.logDirectory, executionId, started);
  const run = new Execution(options, executionId, folder);
  try {
    return await run.execute(started);
  } finally {
    await folder.close();
  }
}

class Execution {
  private state: ExecutionState;
  private readonly store: StateStore | undefined;
  private readonly signal: AbortSignal;
  private workDir = '';
  /** Counts ExecuteDocument runs in order, so each has its own state scope, the same again after a reboot. */
  private nestedRuns = 0;

  constructor(
    private readonly options: RunOptions,
    private readonly executionId: string,
    private readonly folder: LogFolder,
  ) {
    this.state = emptyState(executionId);
    this.store = options.stateDirectory ? new StateStore(options.stateDirectory) : undefined;
    this.signal = options.signal ?? new AbortController().signal;
  }

  private say(line: string): void {
    this.folder.info(line);
    this.options.onOutput?.(`${line}\n`, 'info');
  }

  /** A whole line of a step's output. */
  private output(line: LogLine): void {
    this.folder.output(line);
    this.options.onOutput?.(`${line.text}\n`, line.stream);
  }

  private debug(line: string): void {
    this.folder.debug(line);
    if (this.options.trace) this.options.onOutput?.(`[trace] ${line}\n`);
  }

  async execute(started: Date): Promise<RunResult> {
    await this.folder.writeText('document.yaml', this.options.documents.map((d) => d.text).join('\n---\n'));
    const detailed: DetailedOutput = {
      executionId: this.executionId,
      status: 'Success',
      startTime: started.toISOString(),
      endTime: '',
      failureMessage: '',
      documents: [],
    };
    const chainingOut: Record<string, unknown> = {};
    try {
      const prepared = prepare(this.options.documents, this.options);
      this.state = (await this.store?.load(this.executionId)) ?? emptyState(this.executionId);
      if (Object.keys(this.state.finished).length > 0) this.say(`Resuming execution ${this.executionId} after a reboot`);
      // Named by execution id, so a run resumed after a crash or reboot finds and replaces what the dead one left.
      this.workDir = `/tmp/kiln-toe-${this.executionId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      await this.options.instance.fs.rm(this.workDir, { recursive: true, force: true });
      await this.options.instance.fs.mkdir(this.workDir, { recursive: true, mode: 0o700 });
      try {
        for (const [i, { doc, input, values }] of prepared.entries()) {
          const chaining: Chaining = new Map();
          const out = await this.runDocument(doc, input.path, values, `${i}/`, this.options.phases, 0, [input.path], chaining);
          detailed.documents.push(out);
          chainingOut[input.path] = Object.fromEntries(chaining);
          if (out.status === 'Failed' || out.status === 'Cancelled') break;
        }
      } finally {
        await this.options.instance.fs.rm(this.workDir, { recursive: true, force: true }).catch(() => undefined);
      }
      detailed.status = combine(detailed.documents.map((d) => d.status));
      detailed.failureMessage = detailed.documents.find((d) => d.failureMessage)?.failureMessage ?? '';
    } catch (err) {
      detailed.status = 'Failed';
      detailed.failureMessage = errorMessage(err);
      this.say(detailed.failureMessage);
      if (!isKilnError(err) && !(err instanceof ActionFailure)) this.debug(String((err as Error).stack ?? err));
    }
    detailed.endTime = now();
    this.state.done = true;
    await this.store?.save(this.state);
    await this.folder.writeJson('detailedoutput.json', detailed);
    await this.folder.writeJson('chaining.json', chainingOut);
    return { detailed, summary: summarize(detailed, this.folder.path), logFolder: this.folder.path };
  }

  private async runDocument(
    doc: ComponentDocument,
    filePath: string,
    values: Map<string, string>,
    scope: string,
    phases: string[] | undefined,
    depth: number,
    stack: string[],
    chaining: Chaining,
  ): Promise<DocumentOutput> {
    const out: DocumentOutput = {
      name: doc.name ?? '',
      filePath,
      status: 'Success',
      description: doc.description ?? '',
      startTime: now(),
      endTime: '',
      failureMessage: '',
      phases: [],
    };
    this.say(`Document ${doc.name ?? filePath}`);
    let stop = false;
    for (const phase of doc.phases) {
      if (stop) break;
      if (phases && !phases.includes(phase.name)) continue;
      const p: PhaseOutput = { name: phase.name, status: 'Success', failureMessage: '', startTime: now(), endTime: '', steps: [] };
      this.say(`Phase ${phase.name}`);
      for (const step of phase.steps) {
        const s = await this.runStep(step, phase.name, values, scope, chaining, depth, stack);
        p.steps.push(s);
        if (s.status === 'Failed' && !p.failureMessage) {
          p.failureMessage = `Step "${step.name}" in phase "${phase.name}" failed: ${s.failureMessage}`;
        }
        if (s.status === 'Cancelled' || (s.status === 'Failed' && step.onFailure === 'Abort')) {
          stop = true;
          break;
        }
      }
      p.status = combine(p.steps.map((s) => s.status));
      p.endTime = now();
      out.phases.push(p);
    }
    out.status = combine(out.phases.map((p) => p.status));
    out.failureMessage = out.phases.find((p) => p.failureMessage)?.failureMessage ?? '';
    out.endTime = now();
    return out;
  }

  private resolver(values: Map<string, string>, chaining: Chaining, loop: { name: string | undefined; it: Iteration } | undefined): Resolver {
    return (ref: Reference) => {
      switch (ref.kind) {
        case 'name':
          return values.get(ref.name);
        case 'loop':
          if (!loop || (ref.loop !== 'loop' && ref.loop !== loop.name)) return undefined;
          return ref.field === 'index' ? String(loop.it.index) : loop.it.value;
        case 'chain': {
          const entry = chaining.get(`${ref.phase}.${ref.step}`);
          if (!entry) return undefined;
          let v: unknown = ref.section === 'inputs' ? entry.inputs : entry.outputs;
          if (ref.index !== undefined) v = Array.isArray(v) ? v[ref.index] : undefined;
          else if (Array.isArray(v)) v = v[0];
          if (ref.field !== undefined) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[ref.field] : undefined;
          if (v === undefined || v === null) {
            this.debug(`{{ ${ref.text} }} has no value (the step was skipped or has no such field); using ""`);
            return '';
          }
          return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v as number | boolean);
        }
        case 'invalid':
          return undefined;
      }
    };
  }

  private async runStep(
    step: StepDef,
    phase: string,
    values: Map<string, string>,
    scope: string,
    chaining: Chaining,
    depth: number,
    stack: string[],
  ): Promise<StepOutput> {
    const key = `${scope}${phase}.${step.name}`;
    const previous = this.state.finished[key];
    if (previous) {
      const saved = this.state.chaining[key];
      if (saved) chaining.set(`${phase}.${step.name}`, saved);
      this.debug(`step ${key} finished before the reboot (${previous.status}); not run again`);
      return previous;
    }
    const out: StepOutput = {
      name: step.name,
      action: step.action,
      status: 'Success',
      failureMessage: '',
      timeoutSeconds: step.timeoutSeconds,
      onFailure: step.onFailure,
      maxAttempts: step.maxAttempts,
      startTime: now(),
      endTime: '',
      inputs: '',
      outputs: '',
      loop: step.loop?.raw ?? null,
      detailedOutput: null,
    };
    const base = this.resolver(values, chaining, undefined);
    const record = { inputs: substitute(step.inputs, base) as unknown, outputs: {} as Record<string, string> };
    const started = Date.now();
    this.say(`Step ${step.name} (${step.action})`);
    try {
      const verdict = await this.condition(step, key, base);
      if (verdict === 'Skip') {
        out.status = 'Skipped';
      } else if (verdict === 'Abort') {
        out.status = 'Failed';
        out.failureMessage = `the step's "if" condition chose Abort`;
      } else {
        for (let attempt = 1; attempt <= step.maxAttempts; attempt++) {
          try {
            const result = await this.attempt(step, phase, key, values, chaining, depth, stack, scope);
            record.inputs = result.inputs;
            record.outputs = result.outputs;
            out.detailedOutput = result.detailedOutput ?? null;
            out.status = 'Success';
            out.failureMessage = '';
            break;
          } catch (err) {
            out.status = this.signal.aborted ? 'Cancelled' : 'Failed';
            out.failureMessage = errorMessage(err);
            this.say(`Step ${step.name} attempt ${attempt} of ${step.maxAttempts} failed: ${out.failureMessage}`);
            if (this.signal.aborted) break;
          }
        }
        if (out.status === 'Failed' && step.onFailure === 'Ignore') out.status = 'IgnoredFailure';
      }
    } catch (err) {
      out.status = this.signal.aborted ? 'Cancelled' : 'Failed';
      out.failureMessage = errorMessage(err);
    }
    out.inputs = JSON.stringify(record.inputs ?? null);
    out.outputs = JSON.stringify(record.outputs);
    out.endTime = now();
    chaining.set(`${phase}.${step.name}`, record);
    this.say(`Step ${step.name}: ${out.status}${out.status === 'Skipped' ? '' : ` (${((Date.now() - started) / 1000).toFixed(2)}s)`}`);
    if (out.status !== 'Cancelled') await this.finishStep(key, out, record);
    return out;
  }

  private async finishStep(key: string, out: StepOutput, record: { inputs: unknown; outputs: Record<string, string> }): Promise<void> {
    this.state.finished[key] = out;
    this.state.chaining[key] = record;
    await this.store?.save(this.state);
  }

  /** Evaluates a step's `if` once; the verdict is kept in the state so a re-run after a reboot does not re-evaluate. */
  private async condition(step: StepDef, key: string, resolve: Resolver): Promise<StepAction> {
    if (!step.condition) return 'Execute';
    const saved = this.state.conditions[key];
    if (saved) return saved;
    const r = await evaluate(substitute(step.condition.expression, resolve), this.options.instance);
    const verdict = r.result ? step.condition.then : step.condition.else;
    this.say(`Condition ${r.description} is ${r.result}: ${verdict}`);
    this.state.conditions[key] = verdict;
    return verdict;
  }

  /** One attempt: every loop iteration within the step's timeout, re-running an iteration after a reboot request. */
  private async attempt(
    step: StepDef,
    phase: string,
    key: string,
    values: Map<string, string>,
    chaining: Chaining,
    depth: number,
    stack: string[],
    scope: string,
  ): Promise<{ inputs: unknown; outputs: Record<string, string>; detailedOutput?: unknown }> {
    const deadline = step.timeoutSeconds > 0 ? Date.now() + step.timeoutSeconds * 1000 : undefined;
    const its: (Iteration | undefined)[] = step.loop
      ? iterations(substitute(step.loop.raw, this.resolver(values, chaining, undefined)))
      : [undefined];
    const stdouts: string[] = [];
    const failures: string[] = [];
    let inputs: unknown = null;
    let outputs: Record<string, string> = {};
    let detailedOutput: unknown;
    for (const it of its) {
      const resolve = this.resolver(values, chaining, it && { name: step.loop?.name, it });
      inputs = substitute(step.inputs, resolve);
      try {
        const coerced = step.module.inputShape === 'expression' ? inputs : coerceInputs(step.module, inputs, 'inputs');
        const result = await this.runModule(step, phase, key, coerced, deadline, depth, stack, scope);
        outputs = { ...outputs, ...result.outputs };
        if (result.outputs.stdout !== undefined) stdouts.push(result.outputs.stdout);
        detailedOutput = result.detailedOutput;
      } catch (err) {
        if (this.signal.aborted || !it) throw err;
        failures.push(`iteration ${it.index} (${it.value}): ${errorMessage(err)}`);
      }
    }
    if (failures.length > 0) throw new ActionFailure(`loop ${failures.length === 1 ? 'iteration' : 'iterations'} failed: ${failures.join('; ')}`);
    if (step.loop && stdouts.length > 0) outputs.stdout = stdouts.join('\n');
    return { inputs, outputs, detailedOutput };
  }

  private async runModule(
    step: StepDef,
    phase: string,
    key: string,
    inputs: unknown,
    deadline: number | undefined,
    depth: number,
    stack: string[],
    scope: string,
  ): Promise<ActionResult> {
    const max = this.options.maxRebootsPerStep ?? DEFAULT_MAX_REBOOTS;
    for (;;) {
      const remaining = deadline === undefined ? undefined : deadline - Date.now();
      if (remaining !== undefined && remaining <= 0) throw new ActionFailure(`timed out after ${step.timeoutSeconds} seconds`);
      // One per attempt: what a step leaves without a newline ends its output before the next banner.
      const lines = new LineAssembler((line) => this.output(line));
      let result: ActionResult;
      try {
        result = await this.withDeadline(step, remaining, (signal, timeoutMs) => step.module.run(inputs, this.context(step, phase, signal, timeoutMs, depth, stack, scope, lines)));
      } finally {
        lines.end();
      }
      if (result.rebootNow) {
        await this.reboot(key, result.rebootNow.delaySeconds, true);
        return result;
      }
      if (!result.rebootRequested) return result;
      const count = (this.state.reboots[key] ?? 0) + 1;
      this.state.reboots[key] = count;
      if (count > max) throw new ActionFailure(`asked for a reboot (exit code 194) ${count} times; giving up after ${max}`);
      this.say(`Step ${step.name} asked for a reboot (exit code 194); it runs again after the reboot`);
      await this.reboot(key, 0, false);
    }
  }

  /** Runs fn with a signal that fires at the step's deadline or on cancellation, and fails when the deadline passes. */
  private async withDeadline<T>(step: StepDef, remaining: number | undefined, fn: (signal: AbortSignal, timeoutMs: number | undefined) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(this.signal.reason);
    this.signal.addEventListener('abort', onAbort, { once: true });
    if (this.signal.aborted) controller.abort(this.signal.reason);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      if (remaining === undefined) return;
      // A little later than the module's own timeout, so processes report their own kill first.
      timer = setTimeout(() => {
        controller.abort(new Error('timeout'));
        reject(new ActionFailure(`timed out after ${step.timeoutSeconds} seconds`));
      }, remaining + 250);
    });
    const cancelled = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new ActionFailure('cancelled')), { once: true });
    });
    try {
      return await Promise.race([fn(controller.signal, remaining), expired, cancelled]);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener('abort', onAbort);
      if (!controller.signal.aborted) controller.abort();
    }
  }

  /**
   * Reboots the instance, or simulates it when the instance cannot reboot. State is saved first: a Reboot step
   * counts as finished, a step that asked for a reboot is run again.
   */
  private async reboot(key: string, delaySeconds: number, stepDone: boolean): Promise<void> {
    await this.store?.save(this.state);
    if (delaySeconds > 0) {
      this.say(`Rebooting in ${delaySeconds} seconds`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delaySeconds * 1000);
        this.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
    if (this.options.instance.canReboot) {
      this.say(`Rebooting instance ${this.options.instance.id}`);
      await this.options.instance.reboot(this.signal);
      // A boot empties /tmp (systemd-tmpfiles on Debian), where the scratch folder lives.
      await this.options.instance.fs.mkdir(this.workDir, { recursive: true, mode: 0o700 });
      if (this.options.workingDirectory) await this.options.instance.fs.mkdir(this.options.workingDirectory, { recursive: true });
    } else {
      this.say(`Instance ${this.options.instance.id} cannot reboot; simulating the reboot${stepDone ? '' : ' and running the step again'}`);
    }
    this.debug(`reboot for ${key} done`);
  }

  private context(step: StepDef, phase: string, signal: AbortSignal, timeoutMs: number | undefined, depth: number, stack: string[], scope: string, lines: LineAssembler): ActionContext {
    const log: StepLogger = {
      debug: (m) => this.debug(m),
      info: (m) => this.say(m),
      stdout: (c) => lines.write('stdout', c),
      stderr: (c) => lines.write('stderr', c),
    };
    return {
      instance: this.options.instance,
      signal,
      log,
      timeoutMs,
      workDir: this.options.workingDirectory ?? process.cwd(),
      scratchDir: this.workDir,
      stepName: step.name,
      phaseName: phase,
      runDocument: (request) => this.nested(request, `${scope}${phase}.${step.name}#${++this.nestedRuns}/`, depth, stack),
    };
  }

  /** Runs a document named by ExecuteDocument; `scope` keeps its steps' state apart from every other run of it. */
  private async nested(request: NestedDocumentRequest, scope: string, depth: number, stack: string[]): Promise<NestedDocumentResult> {
    if (depth + 1 > MAX_NESTING) {
      throw new ActionFailure(`ExecuteDocument nesting is limited to ${MAX_NESTING} levels: ${[...stack, request.document].join(' → ')}`);
    }
    const loader = this.options.loadDocument ?? loadLocalDocument;
    const input = await loader(request.document, stack[stack.length - 1]!);
    if (stack.includes(input.path)) {
      throw new ActionFailure(`ExecuteDocument cycle: ${[...stack, input.path].join(' → ')}`);
    }
    const doc = loadDocument(input.text, this.options.modules, input.path);
    const values = resolveVariables(doc, input, { ...input.parameters, ...request.parameters });
    const out = await this.runDocument(doc, input.path, values, scope, request.phases, depth + 1, [...stack, input.path], new Map());
    return { status: out.status, failureMessage: out.failureMessage, detailedOutput: out };
  }
}

