import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateComponentCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  CreateWorkflowCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { bashComponent, machineSkipReason, startBuildServer, waitForImage } from './helpers.js';

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
        commands: ['systemctl is-system-running --wait || true', 'grep -q bookworm /etc/os-release', 'test -f /etc/kiln-built']
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

const DISTRIBUTE = `name: vm-distribute
schemaVersion: 1.0
steps:
  - name: Register
    action: DistributeImage
  - name: Permissions
    action: ModifyImageAttributes
`;

test('custom TEST and DISTRIBUTION workflows on a machine image: the test VM boots from the built disk; a custom BUILD workflow is refused naming its entry', { skip: await machineSkipReason(), timeout: 30 * 60_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const { client } = kiln;
  const workflow = async (name: string, type: 'BUILD' | 'TEST' | 'DISTRIBUTION', data: string) => (await client.send(new CreateWorkflowCommand({ name, semanticVersion: '1.0.0', type, data }))).workflowBuildVersionArn!;
  const testWf = await workflow('vm-test', 'TEST', VM_TEST);
  const distWf = await workflow('vm-distribute', 'DISTRIBUTION', DISTRIBUTE);
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'marked', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo yes > /etc/kiln-built'], test: ['grep -qx yes /etc/kiln-built'] }) }))).componentBuildVersionArn!;
  const recipe = (await client.send(new CreateImageRecipeCommand({ name: 'wf-machine', semanticVersion: '1.0.0', parentImage: BASE, components: [{ componentArn }] }))).imageRecipeArn!;
  const infra = (await client.send(new CreateInfrastructureConfigurationCommand({ name: 'wf-machine', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }))).infrastructureConfigurationArn!;
  const dist = (await client.send(new CreateDistributionConfigurationCommand({ name: 'wf-machine', distributions: [{ region: 'local', amiDistributionConfiguration: { name: 'wf-machine {{ imagebuilder:buildDate }}' } }] }))).distributionConfigurationArn!;
  const create = async (workflows: { workflowArn: string }[]) =>
    (await client.send(new CreateImageCommand({ imageRecipeArn: recipe, infrastructureConfigurationArn: infra, distributionConfigurationArn: dist, workflows, executionRole: ROLE }))).imageBuildVersionArn!;

  const refusedBuild = await workflow('vm-build', 'BUILD', 'schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n');
  const refused = await waitForImage(client, await create([{ workflowArn: refusedBuild }]));
  assert.equal(refused.state?.status, 'FAILED');
  assert.match(refused.state?.reason ?? '', /workflows\[0\]\.workflowArn: Kiln does not run custom BUILD workflows on machine images yet/);

  const t0 = Date.now();
  const arn = await create([{ workflowArn: testWf }, { workflowArn: distWf }]);
  const image = await waitForImage(client, arn, { timeoutMs: 25 * 60_000 });
  t.diagnostic(`machine build (base bootstrap included) with a custom test boot: ${Date.now() - t0} ms`);
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  assert.match(image.outputResources?.amis?.[0]?.image ?? '', /^ami-[0-9a-f]{17}$/);
  const executions = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  assert.deepEqual(executions.map((e) => `${e.type} ${e.workflowBuildVersionArn} ${e.status}`), [
    'BUILD arn:aws:imagebuilder:local:aws:workflow/build/build-image/1.0.0/1 COMPLETED',
    `TEST ${testWf} COMPLETED`,
    `DISTRIBUTION ${distWf} COMPLETED`,
  ]);
  const steps = async (i: number) => ((await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: executions[i]!.workflowExecutionId! }))).steps ?? []).map((s) => `${s.name}:${s.status}`);
  assert.deepEqual(await steps(1), ['Boot:COMPLETED', 'Agent:COMPLETED', 'CheckBoot:COMPLETED', 'AmiOnly:COMPLETED', 'Scan:SKIPPED', 'RunTests:COMPLETED', 'Shutdown:COMPLETED']);
  assert.deepEqual(await steps(2), ['Register:COMPLETED', 'Permissions:COMPLETED']);
  const amiOnly = ((await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: executions[1]!.workflowExecutionId! }))).steps ?? []).find((s) => s.name === 'AmiOnly');
  assert.match(amiOnly?.outputs ?? '', /"output":\["12\./);
});
