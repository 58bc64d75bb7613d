/**
 * A container image's custom BUILD and TEST workflows as the stage overrides container-build.ts runs in place
 * of its built-in workflows. Test workflows run one after another in the order the image lists them (AWS runs
 * up to five of a parallelGroup at once); one whose image entry says CONTINUE lets the image go on when it fails.
 */
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import type { ResourceRecord } from '../../store/store.js';
import type { BuildServices, ContainerStageOverrides } from '../container/container-build.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import type { ContainerParent } from '../stages/build-plan.js';
import { abortKind } from '../stages/step-runner.js';
import { containerActions, containerSystemVariables, type ContainerWorkflowState } from './container-actions.js';
import { runCustomWorkflow, type ImageWorkflow, type ImageWorkflows } from './image-workflows.js';

type Obj = Record<string, unknown>;

export interface ContainerWorkflowOptions {
  services: BuildServices;
  compiled: CompiledPlan<ContainerParent>;
  cleanup: CleanupStack;
  /** The build worker's log: failed rollbacks, instances released at a workflow's end. */
  log: (text: string) => void;
  /** How often a WaitForAction step reads its record (default 500 ms). */
  waitPollMs?: number;
}

/** The overrides for the stages the image has custom workflows for; the others stay built-in. */
export function containerStageOverrides(workflows: ImageWorkflows, options: ContainerWorkflowOptions): ContainerStageOverrides {
  const { services } = options;
  // Outputs of earlier workflows, by output name, for `$.workflowOutputs.*`.
  const workflowOutputs: Obj = {};
  const run = async (workflow: ImageWorkflow, state: ContainerWorkflowState, phase: 'Build' | 'Test', signal: AbortSignal) => {
    const outputs = await runCustomWorkflow({
      services,
      image: state.image,
      workflow,
      actions: (instances) => containerActions(state, instances),
      system: containerSystemVariables(state.image, phase, state.workingDirectory),
      workflowOutputs,
      signal,
      cleanup: options.cleanup,
      log: options.log,
    });
    Object.assign(workflowOutputs, outputs);
  };
  const stateFor = (image: ResourceRecord, stage: 'BUILD' | 'TEST', context: { workingDirectory: string; created: string }): ContainerWorkflowState => ({
    services,
    image,
    stage,
    compiled: options.compiled,
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
  return overrides;
}
