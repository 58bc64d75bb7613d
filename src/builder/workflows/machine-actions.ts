/**
 * The step actions of custom BUILD and TEST workflows on machine images, made of the same pieces as the built-in
 * stages (machine/machine-instances.ts). BUILD: LaunchInstance materializes the parent and launches the build
 * instance (ns on its root filesystem, vm booted from its disk), ExecuteComponents runs the recipe's build
 * components' build and validate phases, CreateImage makes the output disk from the build instance. TEST:
 * LaunchInstance boots a VM from the stored disk, ExecuteComponents runs every component's test phase through
 * its guest agent. One instance at a time in either (per TEST workflow: each has its own VM folder). The rest
 * are common-actions.ts's.
 */
import { KilnError } from '../../domain/errors.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { ResourceRecord } from '../../store/store.js';
import { runComponentPhases, type BuildServices } from '../container/container-build.js';
import { BUILD_PHASES } from '../cache/build-units.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import { bootTestVm, launchBuildInstance, makeMachineOutput, startMachineBuild, type MachineBuildInstance, type MachineBuildOutput, type MachineBuildStart } from '../machine/machine-instances.js';
import type { MachineParent } from '../machine/machine-parent.js';
import type { PlannedComponent } from '../stages/build-plan.js';
import type { ActionRun, WorkflowAction } from './workflow-interpreter.js';
import type { WorkflowInstances } from './image-workflows.js';
import { commonActions, instanceIdOf, MINUTE, refuseImageOverride } from './common-actions.js';

/** What a machine image's custom TEST workflow runs on. */
export interface MachineTestState {
  services: BuildServices;
  image: ResourceRecord;
  diskDigest: string;
  components: PlannedComponent[];
  workingDirectory: string;
  cleanup: CleanupStack;
  /** The workflow's own test VM folder (bootTestVm), so that workflows of one parallel group boot at once. */
  vmSlot: number;
  waitPollMs?: number;
}

/** What a machine image's custom BUILD workflow runs on; `output` is set by its CreateImage. */
export interface MachineBuildState {
  services: BuildServices;
  image: ResourceRecord;
  compiled: CompiledPlan<MachineParent>;
  workingDirectory: string;
  /** ISO time the output's root filesystem is stamped with. */
  created: string;
  cleanup: CleanupStack;
  start?: MachineBuildStart;
  /** The running build instance. */
  built?: MachineBuildInstance;
  output?: MachineBuildOutput;
  waitPollMs?: number;
}

/** A VM's folder is per image and stage, so a machine image's workflow runs one instance at a time. */
function refuseSecondInstance(instances: WorkflowInstances, run: ActionRun, stage: 'BUILD' | 'TEST'): void {
  if (instances.running > 0) throw new KilnError('InvalidArgument', `${run.stepName}: a machine image's ${stage} workflow runs one instance at a time; terminate the other first`);
}

/**
 * The action table of one machine image's custom BUILD workflow. Its build does not use the step cache (as for
 * container images): the workflow's steps, not the recipe's components, decide what runs on the instance.
 */
export function machineBuildActions(state: MachineBuildState, instances: WorkflowInstances): Record<string, WorkflowAction> {
  const { services } = state;
  return {
    ...commonActions(services, state.image.arn, instances, state.waitPollMs),
    LaunchInstance: {
      defaultTimeoutSeconds: 75 * MINUTE,
      run: async (inputs, run) => {
        refuseImageOverride(inputs, run);
        refuseSecondInstance(instances, run, 'BUILD');
        const log: OutputSink = (text, stream) => run.step.log(text, stream);
        state.start ??= await startMachineBuild(services, state.image, state.compiled, run.signal, log);
        const start = state.start;
        state.image = start.image;
        const built = await instances.launchWith(async (holder) => {
          const launched = await launchBuildInstance(services, start, holder, state.cleanup, run.signal, log);
          state.built = launched;
          return launched.instance;
        });
        return { instanceId: built.id };
      },
      rollback: (outputs) => instances.rollback(String(outputs.instanceId)),
    },
    ExecuteComponents: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: (inputs, run) => {
        const buildComponents = state.compiled.components.filter((c) => c.entry.type === 'BUILD');
        return runComponentPhases(services, state.image, instanceIdOf(inputs, run, instances), buildComponents, BUILD_PHASES, run.step, run.signal, state.workingDirectory);
      },
    },
    CreateImage: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: async (inputs, run) => {
        const instance = instanceIdOf(inputs, run, instances);
        if (!state.start || state.built?.instance !== instance) throw new KilnError('InvalidArgument', `${run.stepName}.inputs.instanceId: a machine image's output is made from the build instance its LaunchInstance started`, [{ path: `${run.stepName}.inputs.instanceId`, message: 'is not the build instance' }]);
        state.output = await makeMachineOutput(services, state.start, state.built, state.created, run.signal, (text) => run.step.log(text));
        return { imageId: state.output.disk.digest };
      },
      rollback: () => {
        state.output = undefined;
        return Promise.resolve();
      },
    },
  };
}

/** The action table of one machine image's custom TEST workflow. */
export function machineTestActions(state: MachineTestState, instances: WorkflowInstances): Record<string, WorkflowAction> {
  const { services, image } = state;
  return {
    ...commonActions(services, image.arn, instances, state.waitPollMs),
    LaunchInstance: {
      defaultTimeoutSeconds: 75 * MINUTE,
      run: async (inputs, run) => {
        refuseImageOverride(inputs, run);
        refuseSecondInstance(instances, run, 'TEST');
        const vm = await instances.launchWith((holder) => bootTestVm(services, image, holder, state.diskDigest, state.cleanup, run.signal, (text) => run.step.log(text), state.vmSlot));
        return { instanceId: vm.id, bootMs: vm.bootMs };
      },
      rollback: (outputs) => instances.rollback(String(outputs.instanceId)),
    },
    ExecuteComponents: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: (inputs, run) => runComponentPhases(services, image, instanceIdOf(inputs, run, instances), state.components, ['test'], run.step, run.signal, state.workingDirectory),
    },
  };
}
