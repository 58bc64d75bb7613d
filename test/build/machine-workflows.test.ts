// Custom BUILD, TEST and DISTRIBUTION workflows on machine images, in one boot chain: an ns build made by a custom
// BUILD workflow is booted by a custom TEST workflow; one vm.small build made by a custom BUILD workflow (tests
// off) boots its parent; a BUILD workflow without CreateImage fails before anything boots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  CreateWorkflowCommand,
  GetWorkflowStepExecutionCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { rootPartitionOf } from '../../src/builder/machine/machine-disk.js';
import { bashComponent, machineSkipReason, startBuildServer, toolsSkipReason, waitForImage } from './helpers.js';

const BASE = 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x';
const ROLE = 'arn:aws:iam::111122223333:role/kiln-workflows';

/** A TEST workflow on the booted VM: a command, the components' tests, and a step its if leaves out. */
const VM_TEST = `name: vm-test
schemaVersion: 1.0
steps:
  - name: Boot
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Agent
    action: WaitForSSMAgent
    inputs:
      instanceId.$: $.stepOutputs.Boot.instanceId
  - name: CheckBoot
    action: RunCommand
    inputs:
      instanceId.$: $.stepOutputs.Boot.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands: ['systemctl is-system-running --wait || true', 'grep -q bookworm /etc/os-release', 'test -f /etc/kiln-built', 'grep -qx custom /etc/kiln-custom-build']
  - name: AmiOnly
    action: RunCommand
    if:
      stringEquals: AMI
      value: $.imagebuilder.imageType
    inputs:
      instanceId.$: $.stepOutputs.Boot.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands: ['cat /etc/debian_version']
  - name: Scan
    action: CollectImageScanFindings
    if:
      booleanEquals: true
      value: $.imagebuilder.collectImageScanFindings
  - name: RunTests
    action: ExecuteComponents
    inputs:
      instanceId.$: $.stepOutputs.Boot.instanceId
  - name: Shutdown
    action: TerminateInstance
    inputs:
      instanceId.$: $.stepOutputs.Boot.instanceId
`;

/** A BUILD workflow: the recipe's components and a command on the build instance, then its output disk. */
const CUSTOM_BUILD = `name: machine-build
schemaVersion: 1.0
steps:
  - name: Launch
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Components
    action: ExecuteComponents
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
  - name: Mark
    action: RunCommand
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands: ['echo custom > /etc/kiln-custom-build']
  - name: ContainerOnly
    action: RunCommand
    if:
      stringEquals: Docker
      value: $.imagebuilder.imageType
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands: ['exit 1']
  - name: Output
    action: CreateImage
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
  - name: Terminate
    action: TerminateInstance
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
`;

/** A stored disk's file under the server's data folder, by its digest. */
function storedDisk(dataDir: string, digest: string): string {
  const name = `${digest.replace(/^sha256:/, '')}.raw`;
  const found = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).find((f) => path.basename(f) === name);
  assert.ok(found, `disk ${digest} is stored`);
  return path.join(dataDir, found);
}

/** A file's content in the disk's root ext4, read with debugfs (no mount). */
function catInDisk(disk: string, offset: number, file: string): string {
  return execFileSync('debugfs', ['-R', `cat ${file}`, `${disk}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const DISTRIBUTE = `name: vm-distribute
schemaVersion: 1.0
steps:
  - name: Register
    action: DistributeImage
  - name: Permissions
    action: ModifyImageAttributes
`;

test('custom BUILD, TEST and DISTRIBUTION workflows on machine images: the custom build\'s disk boots in the custom test; a vm build by a custom workflow; a BUILD workflow without CreateImage fails naming its entry', { skip: (await machineSkipReason()) ?? (await toolsSkipReason(['debugfs'])), timeout: 40 * 60_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const { client } = kiln;
  const workflow = async (name: string, type: 'BUILD' | 'TEST' | 'DISTRIBUTION', data: string) => (await client.send(new CreateWorkflowCommand({ name, semanticVersion: '1.0.0', type, data }))).workflowBuildVersionArn!;
  const buildWf = await workflow('machine-build', 'BUILD', CUSTOM_BUILD);
  const testWf = await workflow('vm-test', 'TEST', VM_TEST);
  const distWf = await workflow('vm-distribute', 'DISTRIBUTION', DISTRIBUTE);
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'marked', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo yes > /etc/kiln-built'], test: ['grep -qx yes /etc/kiln-built'] }) }))).componentBuildVersionArn!;
  const recipe = (await client.send(new CreateImageRecipeCommand({ name: 'wf-machine', semanticVersion: '1.0.0', parentImage: BASE, components: [{ componentArn }] }))).imageRecipeArn!;
  const infra = (await client.send(new CreateInfrastructureConfigurationCommand({ name: 'wf-machine', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }))).infrastructureConfigurationArn!;
  const dist = (await client.send(new CreateDistributionConfigurationCommand({ name: 'wf-machine', distributions: [{ region: 'local', amiDistributionConfiguration: { name: 'wf-machine {{ imagebuilder:buildDate }}' } }] }))).distributionConfigurationArn!;
  const create = async (workflows: { workflowArn: string }[], extra: { infrastructureConfigurationArn?: string; imageTestsConfiguration?: { imageTestsEnabled: boolean }; distributionConfigurationArn?: string } = {}) =>
    (await client.send(new CreateImageCommand({ imageRecipeArn: recipe, infrastructureConfigurationArn: infra, distributionConfigurationArn: dist, workflows, executionRole: ROLE, ...extra }))).imageBuildVersionArn!;
  const executionsOf = async (arn: string) => (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  const stepsOf = async (id: string) => (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: id }))).steps ?? [];
  const steps = async (id: string) => (await stepsOf(id)).map((s) => `${s.name}:${s.status}`);

  const noOutputWf = await workflow('no-output', 'BUILD', 'schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n');
  const noOutput = await waitForImage(client, await create([{ workflowArn: noOutputWf }]), { timeoutMs: 15 * 60_000 });
  assert.equal(noOutput.state?.status, 'FAILED');
  assert.match(noOutput.state?.reason ?? '', /workflows\[0\]: the BUILD workflow \S+ ended without an output image: it needs a CreateImage step/);

  let t0 = Date.now();
  const arn = await create([{ workflowArn: buildWf }, { workflowArn: testWf }, { workflowArn: distWf }]);
  const image = await waitForImage(client, arn, { timeoutMs: 25 * 60_000 });
  t.diagnostic(`ns machine build by a custom BUILD workflow, with a custom test boot: ${Date.now() - t0} ms`);
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  assert.match(image.outputResources?.amis?.[0]?.image ?? '', /^ami-[0-9a-f]{17}$/);
  const executions = await executionsOf(arn);
  assert.deepEqual(executions.map((e) => `${e.type} ${e.workflowBuildVersionArn} ${e.status}`), [
    `BUILD ${buildWf} COMPLETED`,
    `TEST ${testWf} COMPLETED`,
    `DISTRIBUTION ${distWf} COMPLETED`,
  ]);
  assert.deepEqual(await steps(executions[0]!.workflowExecutionId!), ['Launch:COMPLETED', 'Components:COMPLETED', 'Mark:COMPLETED', 'ContainerOnly:SKIPPED', 'Output:COMPLETED', 'Terminate:COMPLETED']);
  assert.deepEqual(await steps(executions[1]!.workflowExecutionId!), ['Boot:COMPLETED', 'Agent:COMPLETED', 'CheckBoot:COMPLETED', 'AmiOnly:COMPLETED', 'Scan:SKIPPED', 'RunTests:COMPLETED', 'Shutdown:COMPLETED']);
  assert.deepEqual(await steps(executions[2]!.workflowExecutionId!), ['Register:COMPLETED', 'Permissions:COMPLETED']);
  const amiOnly = (await stepsOf(executions[1]!.workflowExecutionId!)).find((s) => s.name === 'AmiOnly');
  assert.match(amiOnly?.outputs ?? '', /"output":\["12\./);

  // vm: the build boots the parent's disk; tests off, so this is the chain's only extra boot.
  const vmInfra = (await client.send(new CreateInfrastructureConfigurationCommand({ name: 'wf-machine-vm', instanceProfileName: 'kiln', instanceTypes: ['vm.small'] }))).infrastructureConfigurationArn!;
  t0 = Date.now();
  const vmArn = await create([{ workflowArn: buildWf }], { infrastructureConfigurationArn: vmInfra, imageTestsConfiguration: { imageTestsEnabled: false } });
  const vmImage = await waitForImage(client, vmArn, { timeoutMs: 25 * 60_000 });
  t.diagnostic(`vm.small machine build by a custom BUILD workflow (no tests): ${Date.now() - t0} ms`);
  assert.equal(vmImage.state?.status, 'AVAILABLE', vmImage.state?.reason);
  const [vmBuild] = await executionsOf(vmArn);
  assert.equal(`${vmBuild?.type} ${vmBuild?.workflowBuildVersionArn}`, `BUILD ${buildWf}`);
  const output = (await stepsOf(vmBuild!.workflowExecutionId!)).find((s) => s.name === 'Output');
  const stepOutputs = (await client.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: output!.stepExecutionId! }))).outputs ?? '{}';
  const digest = String((JSON.parse(stepOutputs) as { imageId?: string }).imageId);
  const disk = storedDisk(kiln.dataDir, digest);
  const { offset } = await rootPartitionOf(disk);
  assert.equal(catInDisk(disk, offset, '/etc/kiln-built'), 'yes\n', 'the component ran in the build VM');
  assert.equal(catInDisk(disk, offset, '/etc/kiln-custom-build'), 'custom\n', 'the workflow\'s command ran in the build VM');
});
