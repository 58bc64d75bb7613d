/**
 * The custom workflows an image runs instead of the built-in stages: its `workflows` (from CreateImage or its
 * pipeline) resolved to stored workflow builds, their documents parsed and parameters bound, per stage; and the
 * run of one of them as a recorded workflow execution with the instances it launches. Kiln-managed workflows in
 * the list are the built-in stages themselves, so they resolve to nothing here.
 */
import { parseArn } from '../../domain/arn.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import { isJsonObject } from '../../domain/json.js';
import { parseVersionFilter } from '../../domain/semver.js';
import type { DriverInstance, LaunchSpec } from '../../drivers/driver.js';
import { KILN_MANAGED_OWNER } from '../../store/visibility.js';
import { pickBuild } from '../../store/versioned.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { InstanceHolder, terminateOnFailure, type BuildServices } from '../container/container-build.js';
import type { WorkflowType } from '../records/execution-records.js';
import { abortKind } from '../stages/step-runner.js';
import { interpretWorkflow, parseWorkflowDocument, type WorkflowAction, type WorkflowDocument } from './workflow-interpreter.js';
import { bindParameters } from './workflow-values.js';

type Obj = Record<string, unknown>;

/** One custom workflow of an image, ready to run. */
export interface ImageWorkflow {
  /** The workflow build version ARN the execution names. */
  arn: string;
  type: WorkflowType;
  document: WorkflowDocument;
  parameters: Obj;
  /** The image's `workflows[i].onFailure`: CONTINUE lets the image go on when this workflow fails. */
  onFailure: 'ABORT' | 'CONTINUE';
  parallelGroup?: string;
  /** Where it is in the image's `workflows`, for messages. */
  at: string;
}

/** An image's custom workflows by stage; a stage without one runs its built-in workflow. */
export interface ImageWorkflows {
  BUILD?: ImageWorkflow;
  TEST: ImageWorkflow[];
  DISTRIBUTION?: ImageWorkflow;
}

/** Resolves the image's custom workflows; a workflow gone since the image was created fails naming its entry. */
export async function imageWorkflows(store: Store, image: ResourceRecord): Promise<ImageWorkflows> {
  const out: ImageWorkflows = { TEST: [] };
  const entries = Array.isArray(image.data.workflows) ? (image.data.workflows as unknown[]) : [];
  for (const [i, entry] of entries.entries()) {
    const at = `workflows[${i}]`;
    if (!isJsonObject(entry)) continue;
    const text = String(entry.workflowArn ?? '');
    const arn = parseArn(text);
    if (arn?.owner === KILN_MANAGED_OWNER) continue;
    const filter = arn?.version === undefined ? undefined : parseVersionFilter(arn.version);
    const builds = arn && filter ? await store.listResources({ accountId: arn.owner, region: arn.region, type: arn.resourceType, name: arn.name }) : [];
    const record = filter && arn?.owner === image.accountId && arn.region === image.region ? pickBuild(builds, filter, arn.build) : undefined;
    if (!record) throw new KilnError('InvalidArgument', `${at}.workflowArn: the workflow ${text} does not exist (any more) in account ${image.accountId}`, [{ path: `${at}.workflowArn`, message: 'does not exist' }]);
    const type = record.data.type as WorkflowType;
    const document = parseWorkflowDocument(String(record.data.data ?? ''));
    const workflow: ImageWorkflow = {
      arn: record.arn,
      type,
      document,
      parameters: bindParameters(document.parameters, Array.isArray(entry.parameters) ? (entry.parameters as Obj[]) : [], `${at}.parameters`),
      onFailure: entry.onFailure === 'CONTINUE' ? 'CONTINUE' : 'ABORT',
      ...(typeof entry.parallelGroup === 'string' ? { parallelGroup: entry.parallelGroup } : {}),
      at,
    };
    if (type === 'TEST') out.TEST.push(workflow);
    else if (out[type]) throw new KilnError('InvalidArgument', `${at}: an image runs one ${type} workflow; ${out[type].at} is one already`, [{ path: at, message: `is a second ${type} workflow` }]);
    else out[type] = workflow;
  }
  return out;
}

/**
 * The instances one workflow launches, each held like a built-in stage's (InstanceHolder): registered on the
 * build's cleanup stack at launch, released by TerminateInstance, and after a failure kept for debugging or
 * released as the infrastructure configuration says.
 */
export class WorkflowInstances {
  private readonly held = new Map<string, { holder: InstanceHolder; instance: DriverInstance }>();

  constructor(
    private readonly services: BuildServices,
    private readonly image: ResourceRecord,
    private readonly cleanup: CleanupStack,
  ) {}

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<DriverInstance> {
    return this.launchWith((holder) => holder.launch(spec, signal));
  }

  /** Launches through `boot` (a VM boot) with a holder of its own; the instance is held once `boot` has it. */
  async launchWith<T extends DriverInstance>(boot: (holder: InstanceHolder) => Promise<T>): Promise<T> {
    const holder = new InstanceHolder(this.services, this.image, this.cleanup);
    const instance = await boot(holder);
    this.held.set(instance.id, { holder, instance });
    return instance;
  }

  /** How many instances of this workflow run. */
  get running(): number {
    return this.held.size;
  }

  /** The running instance `id` names; InvalidArgument naming `at` when this workflow has none by that id. */
  get(id: unknown, at: string): DriverInstance {
    const found = typeof id === 'string' ? this.held.get(id) : undefined;
    if (!found) throw new KilnError('InvalidArgument', `${at}: ${JSON.stringify(id ?? null)} is not an instance this workflow launched and still runs`, [{ path: at, message: 'names no running instance of this workflow' }]);
    return found.instance;
  }

  async terminate(id: string): Promise<void> {
    const found = this.held.get(id);
    this.held.delete(id);
    await found?.holder.terminate();
  }

  /** The rollback of a launch: the instance goes unless the configuration keeps failed instances. */
  async rollback(id: string): Promise<void> {
    if (terminateOnFailure(this.image)) await this.terminate(id);
  }

  /** After the workflow: what is still held is released, or kept when it failed and the configuration says so. */
  async settle(failed: boolean, cancelled: boolean, stage: string): Promise<string[]> {
    const notes: string[] = [];
    for (const [id, { holder }] of this.held) {
      this.held.delete(id);
      if (!failed) {
        await holder.terminate();
        notes.push(`instance ${id} was still running at the end of the workflow and was released`);
        continue;
      }
      const kept = await holder.afterFailure(cancelled, stage);
      if (kept) notes.push(`instance ${kept} kept (terminateInstanceOnFailure is false): kiln instances shell ${kept}`);
    }
    return notes;
  }
}

/** The inputs of one custom workflow's run. */
export interface CustomWorkflowRun {
  services: BuildServices;
  image: ResourceRecord;
  workflow: ImageWorkflow;
  /** The actions this kind of image can run in this stage, over the workflow's instances. */
  actions: (instances: WorkflowInstances) => Readonly<Record<string, WorkflowAction>>;
  /** `$.imagebuilder.*`. */
  system: Obj;
  /** `$.workflowOutputs.*`: outputs of the image's earlier workflows. */
  workflowOutputs: Obj;
  signal: AbortSignal;
  cleanup: CleanupStack;
  log: (text: string) => void;
}

/** Runs one custom workflow as a recorded execution naming its ARN; answers its outputs, throws its failure. */
export async function runCustomWorkflow(input: CustomWorkflowRun): Promise<Obj> {
  const { services, image, workflow, signal } = input;
  const wf = await services.recorder.startWorkflow({ image, type: workflow.type, workflowBuildVersionArn: workflow.arn, totalStepCount: workflow.document.steps.length, ...(workflow.parallelGroup ? { parallelGroup: workflow.parallelGroup } : {}) });
  const instances = new WorkflowInstances(services, image, input.cleanup);
  try {
    const outputs = await interpretWorkflow({ wf, document: workflow.document, scope: { parameters: workflow.parameters, imagebuilder: input.system, workflowOutputs: input.workflowOutputs }, actions: input.actions(instances), signal, log: input.log });
    for (const note of await instances.settle(false, false, workflow.type)) input.log(`${workflow.arn}: ${note}\n`);
    await wf.finish('COMPLETED');
    return outputs;
  } catch (err) {
    const cancelled = abortKind(signal) === 'cancelled';
    let notes: string[] = [];
    try {
      notes = await instances.settle(true, cancelled, workflow.type);
    } catch (release) {
      notes = [`${errorMessage(release)} (the next start of Kiln sweeps what it left)`];
    }
    const message = [errorMessage(err), ...notes].join('; ');
    await wf.finish(cancelled ? 'CANCELLED' : 'FAILED', message);
    throw err;
  }
}
