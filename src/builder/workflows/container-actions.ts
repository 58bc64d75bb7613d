/**
 * The step actions of custom BUILD and TEST workflows on container images, made of the same pieces as the
 * built-in stages (container-build.ts): a build's LaunchInstance materializes the recipe's parent and launches
 * on it, ExecuteComponents runs the recipe's Dockerfile with its build components (BUILD) or every component's
 * test phase (TEST), CreateImage stores the instance's changes as the output image; the rest are
 * common-actions.ts's.
 */
import { randomUUID } from 'node:crypto';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord } from '../../store/store.js';
import { launchSpecFor, materializeBuildParent, runComponentPhases, runRecipeDockerfile, snapshotContainerImage, type BuildServices, type DockerfileResult, type MaterializedParent } from '../container/container-build.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import type { ContainerParent } from '../stages/build-plan.js';
import type { ContainerImageRef } from '../stages/image-record.js';
import type { WorkflowAction } from './workflow-interpreter.js';
import type { WorkflowInstances } from './image-workflows.js';
import { commonActions, instanceIdOf, MINUTE, refuseImageOverride } from './common-actions.js';

/** What a container image's custom workflow runs on; `output` is set by a BUILD workflow's CreateImage. */
export interface ContainerWorkflowState {
  services: BuildServices;
  image: ResourceRecord;
  stage: 'BUILD' | 'TEST';
  compiled: CompiledPlan<ContainerParent>;
  workingDirectory: string;
  /** ISO time the output image is stamped with. */
  created: string;
  /** The image the TEST stage launches from. */
  tested?: ContainerImageRef;
  parent?: MaterializedParent;
  dockerfile?: DockerfileResult;
  output?: ContainerImageRef;
  waitPollMs?: number;
}






/** The action table of one container image's custom BUILD or TEST workflow. */
export function containerActions(state: ContainerWorkflowState, instances: WorkflowInstances): Record<string, WorkflowAction> {
  const { services, stage } = state;
  return {
    ...commonActions(services, state.image.arn, instances, state.waitPollMs),
    LaunchInstance: {
      defaultTimeoutSeconds: 75 * MINUTE,
      run: async (inputs, run) => {
        refuseImageOverride(inputs, run);
        let digest: string;
        if (stage === 'BUILD') {
          state.parent ??= await materializeBuildParent(services, state.image, state.compiled, run.signal, (text, stream) => run.step.log(text, stream));
          state.image = state.parent.image;
          digest = state.parent.manifestDigest;
        } else {
          digest = state.tested!.manifestDigest;
        }
        const layers = await services.layers.imageLayers(digest, run.signal);
        const spec = launchSpecFor(state.image, layers, services.paths.scratchRoot, stage === 'BUILD' ? 'build' : 'test');
        const instance = await instances.launch(spec, run.signal);
        run.step.log(`launched ${instance.id} from ${digest}\n`);
        return { instanceId: instance.id };
      },
      rollback: (outputs) => instances.rollback(String(outputs.instanceId)),
    },
    ExecuteComponents: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: async (inputs, run) => {
        const instance = instanceIdOf(inputs, run, instances);
        if (stage === 'TEST') return runComponentPhases(services, state.image, instance, state.compiled.components, ['test'], run.step, run.signal, state.workingDirectory);
        if (!state.parent) throw new KilnError('InvalidArgument', `${run.stepName}: ExecuteComponents needs a LaunchInstance before it`);
        state.dockerfile = await runRecipeDockerfile(services, state.image, { instance, plan: state.parent.plan, parentImage: state.parent.parentImage, components: state.compiled.components, workingDirectory: state.workingDirectory, step: run.step, signal: run.signal });
        return { runCommandId: randomUUID(), status: 'Success' };
      },
    },
    CreateImage: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: async (inputs, run) => {
        const instance = instanceIdOf(inputs, run, instances);
        if (stage !== 'BUILD' || !state.parent) throw new KilnError('InvalidArgument', `${run.stepName}: a container image's output is made by CreateImage in its BUILD workflow, on the build instance`);
        const parent = state.parent.parentImage;
        const dockerfile = state.dockerfile ?? { config: parent.config, history: [] };
        state.output = await snapshotContainerImage(services, instance, { parentImage: parent, dockerfile, created: state.created, step: run.step, signal: run.signal });
        return { imageId: state.output.manifestDigest, imageDigest: state.output.manifestDigest };
      },
      rollback: () => {
        state.output = undefined;
        return Promise.resolve();
      },
    },
  };
}

