/**
 * A container image's custom BUILD, TEST and DISTRIBUTION workflows as the stage overrides container-build.ts
 * and distribution-stage.ts run in place of their built-in workflows; a DISTRIBUTION workflow's
 * DistributeContainerImage step distributes every region as the built-in step does. Test workflows run one after another in the order the image lists them (AWS runs
 * up to five of a parallelGroup at once); one whose image entry says CONTINUE lets the image go on when it fails.
 */
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import type { ResourceRecord } from '../../store/store.js';
import type { BuildServices, ContainerStageOverrides } from '../container/container-build.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import type { ContainerParent } from '../stages/build-plan.js';
import { abortKind } from '../stages/step-runner.js';
import type { DistributionOverride } from '../stages/distribution-stage.js';
import { recipeOf } from '../stages/image-record.js';
import { containerActions, containerSystemVariables, waitForAction, type ContainerWorkflowState } from './container-actions.js';
import { runCustomWorkflow, type ImageWorkflow, type ImageWorkflows, type WorkflowInstances } from './image-workflows.js';
import type { WorkflowAction } from './workflow-interpreter.js';

type Obj = Record<string, unknown>;

export interface ContainerWorkflowOptions {
  services: BuildServices;
  /** The build's compiled plan; absent for a distribution-only job, which runs no BUILD or TEST workflow. */
  compiled?: CompiledPlan<ContainerParent>;
  cleanup: CleanupStack;
  /** The build worker's log: failed rollbacks, instances released at a workflow's end. */
  log: (text: string) => void;
  /** How often a WaitForAction step reads its record (default 500 ms). */
  waitPollMs?: number;
}

/** The overrides of a container image's stages that have custom workflows; the others stay built-in. */
export interface ContainerWorkflowOverrides {
  stages: ContainerStageOverrides;
  distribution?: DistributionOverride;
}

/** The overrides for the stages the image has custom workflows for; the others stay built-in. */
export function containerWorkflowOverrides(workflows: ImageWorkflows, options: ContainerWorkflowOptions): ContainerWorkflowOverrides {
  const { services } = options;
  // Outputs of earlier workflows, by output name, for `$.workflowOutputs.*`.
  const workflowOutputs: Obj = {};
  const runWith = async (workflow: ImageWorkflow, image: ResourceRecord, actions: (instances: WorkflowInstances) => Record<string, WorkflowAction>, system: Obj, signal: AbortSignal) => {
    const outputs = await runCustomWorkflow({ services, image, workflow, actions, system, workflowOutputs, signal, cleanup: options.cleanup, log: options.log });
    Object.assign(workflowOutputs, outputs);
  };
  const run = (workflow: ImageWorkflow, state: ContainerWorkflowState, phase: 'Build' | 'Test', signal: AbortSignal) =>
    runWith(workflow, state.image, (instances) => containerActions(state, instances), containerSystemVariables(state.image, phase, state.workingDirectory), signal);
  const distribution = workflows.DISTRIBUTION;
  const distribute: DistributionOverride | undefined =
    distribution &&
    ((image, regions, signal) => {
      const actions = (): Record<string, WorkflowAction> => ({
        DistributeContainerImage: { defaultTimeoutSeconds: 120 * 60, run: (_inputs, step) => regions(step.step, step.signal) },
        WaitForAction: waitForAction(services, image.arn, options.waitPollMs),
      });
      return runWith(distribution, image, actions, containerSystemVariables(image, 'Distribution', String(recipeOf(image).workingDirectory ?? '/tmp')), signal);
    });
  const compiled = options.compiled;
  if (!compiled) return { stages: {}, ...(distribute ? { distribution: distribute } : {}) };
  const stateFor = (image: ResourceRecord, stage: 'BUILD' | 'TEST', context: { workingDirectory: string; created: string }): ContainerWorkflowState => ({
    services,
    image,
    stage,
    compiled,
    ...context,
    ...(options.waitPollMs === undefined ? {} : { waitPollMs: options.waitPollMs }),
  });
  const overrides: ContainerStageOverrides = {};
  const build = workflows.BUILD;
  if (build) {
    overrides.build = async (image, context, signal) => {
      const state = stateFor(image, 'BUILD', context);
      await run(build, state, 'Build', signal);
      if (!state.output) throw new KilnError('InvalidArgument', `${build.at}: the BUILD workflow ${build.arn} ended without an output image: it needs a CreateImage step on its build instance`);
      return state.output;
    };
  }
  const tests = workflows.TEST;
  if (tests.length > 0) {
    overrides.test = async (image, output, context, signal) => {
      for (const test of tests) {
        try {
          await run(test, { ...stateFor(image, 'TEST', context), tested: output }, 'Test', signal);
        } catch (err) {
          if (test.onFailure !== 'CONTINUE' || abortKind(signal) !== undefined) throw err;
          options.log(`${image.arn}: the TEST workflow ${test.arn} failed and ${test.at}.onFailure is CONTINUE: ${errorMessage(err)}\n`);
        }
      }
    };
  }
  return { stages: overrides, ...(distribute ? { distribution: distribute } : {}) };
}
