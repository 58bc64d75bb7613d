/**
 * An image's custom workflows as the stage overrides the build runs in place of its built-in workflows:
 * container-build.ts's and machine-build.ts's BUILD and TEST, and distribution-stage.ts's DISTRIBUTION, whose
 * DistributeContainerImage / DistributeImage step distributes every region as the built-in step does. Test
 * workflows run by parallelGroup as test-groups.ts orders them; one whose image entry says CONTINUE lets the
 * image go on when it fails. Earlier workflows' outputs are `$.workflowOutputs.*` of later ones.
 */
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import type { ResourceRecord } from '../../store/store.js';
import type { BuildServices, ContainerStageOverrides } from '../container/container-build.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import type { MachineStageOverrides } from '../machine/machine-build.js';
import type { MachineParent } from '../machine/machine-parent.js';
import type { ContainerParent } from '../stages/build-plan.js';
import type { DistributionOverride, RegionsDistributor } from '../stages/distribution-stage.js';
import { recipeOf } from '../stages/image-record.js';
import { abortKind } from '../stages/step-runner.js';
import { commonActions, MINUTE, noted, systemVariables } from './common-actions.js';
import { containerActions, type ContainerWorkflowState } from './container-actions.js';
import { runTestRounds } from './test-groups.js';
import { runCustomWorkflow, type ImageWorkflow, type ImageWorkflows, type WorkflowInstances } from './image-workflows.js';
import { machineBuildActions, machineTestActions, type MachineBuildState } from './machine-actions.js';
import type { WorkflowAction } from './workflow-interpreter.js';

type Obj = Record<string, unknown>;

export interface StageOverrideOptions {
  services: BuildServices;
  cleanup: CleanupStack;
  /** The build worker's log: failed rollbacks, instances released at a workflow's end. */
  log: (text: string) => void;
  /** How often a WaitForAction step reads its record (default 500 ms). */
  waitPollMs?: number;
}

/** The overrides of an image's stages that have custom workflows; the others stay built-in. */
export interface StageOverrides {
  container: (compiled: CompiledPlan<ContainerParent>) => ContainerStageOverrides;
  machine: (compiled: CompiledPlan<MachineParent>) => MachineStageOverrides;
  distribution?: DistributionOverride;
}

/** The actions of a DISTRIBUTION workflow: the image kind's distribution step runs every region. */
function distributionActions(image: ResourceRecord, regions: RegionsDistributor, common: Record<string, WorkflowAction>): Record<string, WorkflowAction> {
  const distribute: WorkflowAction = { defaultTimeoutSeconds: 360 * MINUTE, run: (_inputs, run) => regions(run.step, run.signal) };
  if (image.data.type !== 'AMI') return { ...common, DistributeContainerImage: distribute };
  // DistributeImage applies the distribution configuration's launch permissions, exports and configurations;
  // these steps may follow it, but not change what it applied.
  const applied = (action: string, input: string): WorkflowAction => ({
    defaultTimeoutSeconds: 120 * MINUTE,
    run: (inputs, run) => {
      if (inputs[input] !== undefined) throw new KilnError('InvalidArgument', `${run.stepName}.inputs.${input}: Kiln's DistributeImage applies the distribution configuration's; ${action} cannot change them`, [{ path: `${run.stepName}.inputs.${input}`, message: 'is not supported' }]);
      return noted(120 * MINUTE, `the distribution configuration's ${input} were applied by DistributeImage`).run(inputs, run);
    },
  });
  return { ...common, DistributeImage: distribute, ModifyImageAttributes: applied('ModifyImageAttributes', 'attributes'), ApplyImageConfigurations: applied('ApplyImageConfigurations', 'configurations') };
}

/** The stage overrides of one build job. */
export function stageOverrides(workflows: ImageWorkflows, options: StageOverrideOptions): StageOverrides {
  const { services } = options;
  const workflowOutputs: Obj = {};
  const run = async (workflow: ImageWorkflow, image: ResourceRecord, actions: (instances: WorkflowInstances) => Record<string, WorkflowAction>, phase: 'Build' | 'Test' | 'Distribution', workingDirectory: string, signal: AbortSignal) => {
    const outputs = await runCustomWorkflow({ services, image, workflow, actions, system: systemVariables(image, phase, workingDirectory), workflowOutputs, signal, cleanup: options.cleanup, log: options.log });
    Object.assign(workflowOutputs, outputs);
  };
  /** Runs the BUILD workflow: its output is what its CreateImage left, or it fails naming the image's entry. */
  const runBuild = async <T>(build: ImageWorkflow, image: ResourceRecord, actions: (instances: WorkflowInstances) => Record<string, WorkflowAction>, output: () => T | undefined, workingDirectory: string, signal: AbortSignal): Promise<T> => {
    await run(build, image, actions, 'Build', workingDirectory, signal);
    const made = output();
    if (!made) throw new KilnError('InvalidArgument', `${build.at}: the BUILD workflow ${build.arn} ended without an output image: it needs a CreateImage step on its build instance`);
    return made;
  };
  const waitPollMs = options.waitPollMs === undefined ? {} : { waitPollMs: options.waitPollMs };
  /** The TEST workflows by parallel group (test-groups.ts); CONTINUE entries may fail without failing the image. */
  const runTests = (image: ResourceRecord, signal: AbortSignal, one: (test: ImageWorkflow, signal: AbortSignal) => Promise<void>) =>
    runTestRounds(workflows.TEST, signal, async (test, testSignal) => {
      try {
        await one(test, testSignal);
      } catch (err) {
        if (test.onFailure !== 'CONTINUE' || abortKind(testSignal) !== undefined) throw err;
        options.log(`${image.arn}: the TEST workflow ${test.arn} failed and ${test.at}.onFailure is CONTINUE: ${errorMessage(err)}\n`);
      }
    });
  const distribution = workflows.DISTRIBUTION;
  const hasTests = workflows.TEST.length > 0;
  return {
    container: (compiled) => {
      const stateFor = (image: ResourceRecord, stage: 'BUILD' | 'TEST', context: { workingDirectory: string; created: string }): ContainerWorkflowState => ({
        services,
        image,
        stage,
        compiled,
        ...context,
        ...waitPollMs,
      });
      const overrides: ContainerStageOverrides = {};
      const build = workflows.BUILD;
      if (build) {
        overrides.build = (image, context, signal) => {
          const state = stateFor(image, 'BUILD', context);
          return runBuild(build, image, (instances) => containerActions(state, instances), () => state.output, context.workingDirectory, signal);
        };
      }
      if (hasTests) {
        overrides.test = (image, output, context, signal) =>
          runTests(image, signal, (test, testSignal) => {
            const state = { ...stateFor(image, 'TEST', context), tested: output };
            return run(test, image, (instances) => containerActions(state, instances), 'Test', context.workingDirectory, testSignal);
          });
      }
      return overrides;
    },
    machine: (compiled) => {
      const overrides: MachineStageOverrides = {};
      const build = workflows.BUILD;
      if (build) {
        overrides.build = (image, context, signal) => {
          const state: MachineBuildState = { services, image, compiled, ...context, cleanup: options.cleanup, ...waitPollMs };
          return runBuild(build, image, (instances) => machineBuildActions(state, instances), () => state.output, context.workingDirectory, signal);
        };
      }
      if (hasTests) {
        overrides.test = (image, diskDigest, context, signal) =>
          runTests(image, signal, (test, testSignal) => {
            const state = { services, image, diskDigest, components: compiled.components, workingDirectory: context.workingDirectory, cleanup: options.cleanup, vmSlot: workflows.TEST.indexOf(test), ...waitPollMs };
            return run(test, image, (instances) => machineTestActions(state, instances), 'Test', context.workingDirectory, testSignal);
          });
      }
      return overrides;
    },
    ...(distribution
      ? {
          distribution: (image: ResourceRecord, regions: RegionsDistributor, signal: AbortSignal) =>
            run(distribution, image, (instances) => distributionActions(image, regions, commonActions(services, image.arn, instances, options.waitPollMs)), 'Distribution', String(recipeOf(image).workingDirectory ?? '/tmp'), signal),
        }
      : {}),
  };
}
