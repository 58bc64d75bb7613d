/**
 * The step actions of custom TEST workflows on machine images: LaunchInstance boots a VM from the stored disk as
 * the built-in test stage does (machine-build.ts bootTestVm; one at a time per workflow), ExecuteComponents runs every
 * component's test phase through its guest agent; the rest are common-actions.ts's.
 */
import { KilnError } from '../../domain/errors.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import type { ResourceRecord } from '../../store/store.js';
import { runComponentPhases, type BuildServices } from '../container/container-build.js';
import { bootTestVm } from '../machine/machine-build.js';
import type { PlannedComponent } from '../stages/build-plan.js';
import type { WorkflowAction } from './workflow-interpreter.js';
import type { WorkflowInstances } from './image-workflows.js';
import { commonActions, instanceIdOf, MINUTE } from './common-actions.js';

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

/** The action table of one machine image's custom TEST workflow. */
export function machineTestActions(state: MachineTestState, instances: WorkflowInstances): Record<string, WorkflowAction> {
  const { services, image } = state;
  return {
    ...commonActions(services, image.arn, instances, state.waitPollMs),
    LaunchInstance: {
      defaultTimeoutSeconds: 75 * MINUTE,
      run: async (inputs, run) => {
        if (inputs.imageIdOverride !== undefined) throw new KilnError('InvalidArgument', `${run.stepName}.inputs.imageIdOverride: Kiln launches from the stage's image only`, [{ path: `${run.stepName}.inputs.imageIdOverride`, message: 'is not supported' }]);
        if (instances.running > 0) throw new KilnError('InvalidArgument', `${run.stepName}: a machine image's TEST workflow runs one VM at a time; terminate the other first`);
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
