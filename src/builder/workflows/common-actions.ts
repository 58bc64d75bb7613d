/**
 * The step actions any custom workflow runs the same way on any instance: TerminateInstance, RunCommand
 * (AWS-RunShellScript), SanitizeInstance, CollectImageMetadata, WaitForAction, and the AWS actions for
 * services Kiln has no counterpart of (scan findings, Docker bootstrap, the SSM agent), which succeed saying
 * what Kiln does instead.
 */
import { randomUUID } from 'node:crypto';
import { KilnError } from '../../domain/errors.js';
import { isJsonObject } from '../../domain/json.js';
import type { DriverInstance } from '../../drivers/driver.js';
import type { ResourceRecord } from '../../store/store.js';
import type { WaitingStepMark } from '../../store/roles/event-log.js';
import type { Instance } from '../../toe/instance/instance.js';
import type { BuildServices } from '../container/container-build.js';
import { markWaiting, waitForStepAction } from '../records/execution-records.js';
import { patchImage, recipeOf } from '../stages/image-record.js';
import { collectFindings } from '../stages/image-scan.js';
import type { WorkflowInstances } from './image-workflows.js';
import type { ActionRun, WorkflowAction } from './workflow-interpreter.js';

type Obj = Record<string, unknown>;

export const MINUTE = 60;
/** How much of a command's output its step's outputs carry. */
const OUTPUT_TAIL = 4000;
/** How often a waiting step reads its record for an action. */
const DEFAULT_WAIT_POLL_MS = 500;

/** A LaunchInstance's `imageIdOverride`: Kiln launches from the stage's own image (the parent, or the output). */
export function refuseImageOverride(inputs: Obj, run: ActionRun): void {
  if (inputs.imageIdOverride !== undefined) throw new KilnError('InvalidArgument', `${run.stepName}.inputs.imageIdOverride: Kiln launches from the stage's image only`, [{ path: `${run.stepName}.inputs.imageIdOverride`, message: 'is not supported' }]);
}

/** The instance a step's `instanceId` input names, among those its workflow launched. */
export function instanceIdOf(inputs: Obj, run: ActionRun, instances: WorkflowInstances): DriverInstance {
  return instances.get(inputs.instanceId, `${run.stepName}.inputs.instanceId`);
}

/** Lines of a command document's `commands` parameter: AWS passes a list, one command per entry. */
function commandsOf(inputs: Obj, at: string): { script: string; workingDirectory?: string } {
  if (inputs.documentName !== 'AWS-RunShellScript') {
    throw new KilnError('InvalidArgument', `${at}.documentName: Kiln runs the command document AWS-RunShellScript only, not ${JSON.stringify(inputs.documentName ?? null)}`, [{ path: `${at}.documentName`, message: 'must be AWS-RunShellScript' }]);
  }
  const params = isJsonObject(inputs.parameters) ? inputs.parameters : {};
  const commands = Array.isArray(params.commands) ? params.commands.map(String) : typeof params.commands === 'string' ? [params.commands] : [];
  if (commands.length === 0) throw new KilnError('InvalidArgument', `${at}.parameters.commands: AWS-RunShellScript needs a list of commands`, [{ path: `${at}.parameters.commands`, message: 'is required' }]);
  const dir = Array.isArray(params.workingDirectory) ? params.workingDirectory[0] : params.workingDirectory;
  return { script: commands.join('\n'), ...(typeof dir === 'string' && dir !== '' ? { workingDirectory: dir } : {}) };
}

/** Runs a shell script on the instance as root, its output in the step's log; fails with the exit code and the output's tail. */
async function runShell(instance: Instance, script: string, run: ActionRun, cwd?: string): Promise<Obj> {
  let tail = '';
  const keep = (chunk: Buffer, stream: 'stdout' | 'stderr') => {
    const text = chunk.toString('utf8');
    run.step.log(text, stream);
    tail = (tail + text).slice(-OUTPUT_TAIL);
  };
  // AWS-RunShellScript runs its commands with sh; an image without one (a minimal base) gets bash.
  const shell = (await instance.fs.stat('/bin/sh')) ? '/bin/sh' : 'bash';
  const result = await instance.exec([shell, '-c', script], { ...(cwd ? { cwd } : {}), signal: run.signal, onStdout: (c) => keep(c, 'stdout'), onStderr: (c) => keep(c, 'stderr') });
  run.signal.throwIfAborted();
  if (result.exitCode !== 0) {
    const why = result.spawnError ?? result.instanceFault ?? (result.exitCode === null ? `killed by ${result.signal ?? 'a signal'}` : `exit code ${result.exitCode}`);
    throw new KilnError('Internal', `the commands failed (${why})${tail.trim() ? `\nLast output:\n${tail.trimEnd().split('\n').slice(-15).join('\n')}` : ''}`);
  }
  return { runCommandId: randomUUID(), status: 'Success', output: [tail] };
}

/** A step that waits for SendWorkflowStepAction: RESUME completes it, STOP fails it with the reason given. */
export function waitForAction(services: Pick<BuildServices, 'store'>, imageArn: string, pollMs = DEFAULT_WAIT_POLL_MS): WorkflowAction {
  return {
    defaultTimeoutSeconds: 3 * 24 * 60 * MINUTE,
    run: async (_inputs, run) => {
      const id = run.step.stepExecutionId;
      await markWaiting(services.store, id);
      // The mark on the image is what logs the event (/kiln/events, notifications) on every node.
      const mark: WaitingStepMark = { stepExecutionId: id, message: `the workflow step ${run.stepName} (${id}) is waiting for SendWorkflowStepAction RESUME or STOP` };
      await patchImage(services.store, imageArn, { waitingStep: mark });
      run.step.log(`waiting for SendWorkflowStepAction (RESUME or STOP) on step ${id}\n`);
      const got = await waitForStepAction(services.store, run.step.stepExecutionId, run.signal, pollMs);
      run.step.log(`received ${got.action}${got.reason ? `: ${got.reason}` : ''}\n`);
      if (got.action === 'STOP') throw new KilnError('InvalidRequest', got.reason ?? 'stopped by SendWorkflowStepAction');
      return { action: got.action, ...(got.reason === undefined ? {} : { reason: got.reason }) };
    },
  };
}

function missing(arn: string): never {
  throw new KilnError('NotFound', `the image ${arn} is gone`);
}

/** Steps AWS runs for services Kiln has no counterpart of: they succeed, saying so. */
export function noted(seconds: number, message: string, outputs: Obj = {}): WorkflowAction {
  return {
    defaultTimeoutSeconds: seconds,
    run: (_inputs, run) => {
      run.step.setMessage(message);
      run.step.log(`${message}\n`);
      return Promise.resolve({ status: 'Success', ...outputs });
    },
  };
}

/** The actions every custom workflow has, over its instances; `imageArn` is the image a wait is marked on. */
export function commonActions(services: Pick<BuildServices, 'store' | 'vulnerabilities'>, imageArn: string, instances: WorkflowInstances, waitPollMs?: number): Record<string, WorkflowAction> {
  return {
    TerminateInstance: {
      defaultTimeoutSeconds: 30 * MINUTE,
      run: async (inputs, run) => {
        instanceIdOf(inputs, run, instances);
        await instances.terminate(String(inputs.instanceId));
        return {};
      },
    },
    RunCommand: {
      defaultTimeoutSeconds: 720 * MINUTE,
      run: (inputs, run) => {
        const instance = instanceIdOf(inputs, run, instances);
        const { script, workingDirectory } = commandsOf(inputs, `${run.stepName}.inputs`);
        return runShell(instance, script, run, workingDirectory);
      },
    },
    SanitizeInstance: {
      defaultTimeoutSeconds: 60 * MINUTE,
      // What AWS's Linux sanitize script removes that a container can hold: host keys, shell history, logs.
      run: (inputs, run) => runShell(instanceIdOf(inputs, run, instances), 'rm -f /etc/ssh/ssh_host_*_key* /root/.bash_history; if [ -d /var/log ]; then find /var/log -type f -exec truncate -s 0 {} +; fi', run),
    },
    CollectImageMetadata: {
      defaultTimeoutSeconds: 30 * MINUTE,
      run: async (inputs, run) => {
        const instance = instanceIdOf(inputs, run, instances);
        const text = (await instance.fs.stat('/etc/os-release')) ? (await instance.fs.readFile('/etc/os-release')).toString('utf8') : '';
        const osVersion = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown';
        run.step.log(`osVersion ${osVersion}\n`);
        return { osVersion };
      },
    },
    CollectImageScanFindings: {
      defaultTimeoutSeconds: 120 * MINUTE,
      // The image as stored now: its inventory was recorded when the build stage made it.
      run: async (_inputs, run) => collectFindings(services.store, services.vulnerabilities, await services.store.getResource(imageArn) ?? missing(imageArn), { log: (text) => run.step.log(text), setMessage: (text) => run.step.setMessage(text) }),
    },
    BootstrapInstanceForContainer: noted(60 * MINUTE, "Kiln's instances build containers themselves: nothing to install", { runCommandId: randomUUID() }),
    WaitForSSMAgent: noted(60 * MINUTE, "Kiln's instances take commands as soon as they launch: no agent to wait for"),
    WaitForAction: waitForAction(services, imageArn, waitPollMs),
  };
}

/** `$.imagebuilder.*` of an image's workflow in `phase`. */
export function systemVariables(image: ResourceRecord, phase: 'Build' | 'Test' | 'Distribution', workingDirectory: string): Obj {
  const infra = (image.data.infrastructureConfiguration ?? {}) as Obj;
  const recipe = recipeOf(image);
  return {
    cloudWatchLogGroup: `/aws/imagebuilder/${image.name}`,
    cloudWatchLogStream: `${image.version}/${image.build}`,
    collectImageMetadata: image.data.enhancedImageMetadataEnabled !== false,
    collectImageScanFindings: ((image.data.imageScanningConfiguration ?? {}) as Obj).imageScanningEnabled === true,
    imageBuildNumber: image.build,
    imageId: String(recipe.parentImage ?? ''),
    imageName: image.name,
    imageType: image.data.type === 'AMI' ? 'AMI' : 'Docker',
    imageVersionNumber: image.version,
    instanceProfileName: String(infra.instanceProfileName ?? ''),
    platform: 'Linux',
    s3Logs: (infra.logging ?? {}) as Obj,
    securityGroups: (infra.securityGroupIds ?? []) as unknown[],
    sourceImageARN: image.arn,
    subnetId: String(infra.subnetId ?? ''),
    terminateInstanceOnFailure: infra.terminateInstanceOnFailure !== false,
    workflowPhase: phase,
    workingDirectory,
  };
}
