/**
 * AWS's six managed workflows (owner `aws`, version 1.0.0 build 1), as Kiln runs them: the one source of their
 * names, types, ARNs and documents. The build engine names these ARNs on the workflow executions it records,
 * and the workflow family lists and serves these documents, so each document's steps are exactly the step
 * names and actions the engine runs and records for its stage (container-build.ts, machine-build.ts,
 * distribution-stage.ts). Change a stage there and its document here together.
 */
import { formatArn } from './arn.js';
import type { WorkflowType } from './workflow-document.js';

/** The owner of AWS-managed resources in their ARNs (store/visibility.ts's KILN_MANAGED_OWNER, one layer up). */
const OWNER = 'aws';
/** Every managed workflow's version and build: AWS has published no other. */
export const MANAGED_WORKFLOW_VERSION = '1.0.0';
export const MANAGED_WORKFLOW_BUILD = 1;

/** What a managed workflow builds on: machine images (`-image`) or container images (`-container`). */
export type ManagedWorkflowKind = 'image' | 'container';

/** One managed workflow. */
export interface ManagedWorkflow {
  /** `build-image`, `test-container`, ...; also its name slug. */
  name: string;
  type: WorkflowType;
  kind: ManagedWorkflowKind;
  description: string;
  /** The workflow document (YAML, schemaVersion 1.0) GetWorkflow answers as `data`. */
  data: string;
}

const LAUNCH = (step: string, description: string) => `  - name: ${step}
    action: LaunchInstance
    description: ${description}
    onFailure: Abort
    inputs:
      waitFor: ssmAgent
`;
const TERMINATE = (step: string, launch: string) => `  - name: ${step}
    action: TerminateInstance
    description: Releases the instance, also after a failure unless terminateInstanceOnFailure is false.
    onFailure: Continue
    inputs:
      instanceId.$: $.stepOutputs.${launch}.instanceId
`;

function buildDocument(kind: ManagedWorkflowKind): string {
  const what = kind === 'image' ? 'machine image' : 'container image';
  // The engine's CreateOutputImage answers the stored disk's digest as imageId for a machine image, and the
  // OCI manifest's digest as imageDigest for a container image.
  const output = kind === 'image' ? 'imageId' : 'imageDigest';
  return `name: build-${kind}
description: Builds a ${what} from the recipe's parent with its build components.
schemaVersion: 1.0
steps:
${LAUNCH('LaunchBuildInstance', "Materializes the recipe's parent image and launches the build instance from it.")}  - name: ApplyBuildComponents
    action: ExecuteComponents
    description: Runs the build and validate phases of the recipe's build components.
    onFailure: Abort
    inputs:
      instanceId.$: $.stepOutputs.LaunchBuildInstance.instanceId
  - name: CreateOutputImage
    action: CreateImage
    description: Stores the instance's result as the output ${what}.
    onFailure: Abort
    inputs:
      instanceId.$: $.stepOutputs.LaunchBuildInstance.instanceId
${TERMINATE('TerminateBuildInstance', 'LaunchBuildInstance')}outputs:
  - name: ${kind === 'image' ? 'ImageId' : 'ImageDigest'}
    value: $.stepOutputs.CreateOutputImage.${output}
`;
}

function testDocument(kind: ManagedWorkflowKind): string {
  return `name: test-${kind}
description: Tests the ${kind === 'image' ? 'machine image' : 'container image'} the build stage made with every component's test phase.
schemaVersion: 1.0
steps:
${LAUNCH('LaunchTestInstance', 'Launches a new instance from the build stage\'s output image.')}  - name: CollectImageScanFindings
    action: CollectImageScanFindings
    description: Matches the image's packages against the vulnerability feeds when image scanning is enabled.
    onFailure: Continue
    if:
      booleanEquals: true
      value: $.imagebuilder.collectImageScanFindings
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
  - name: ApplyTestComponents
    action: ExecuteComponents
    description: Runs the test phase of the recipe's components.
    onFailure: Abort
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
${TERMINATE('TerminateTestInstance', 'LaunchTestInstance')}`;
}

function distributeDocument(kind: ManagedWorkflowKind): string {
  const [step, description] =
    kind === 'image'
      ? ['DistributeImage', 'Registers the machine image in each region and account of the distribution configuration, with its launch permissions and exports.']
      : ['DistributeContainerImage', "Pushes the container image to each region's repository of the distribution configuration."];
  return `name: distribute-${kind}
description: Distributes the ${kind === 'image' ? 'machine image' : 'container image'} as the distribution configuration says, one region at a time.
schemaVersion: 1.0
steps:
  - name: ${step}
    action: ${step}
    description: ${description}
    onFailure: Abort
`;
}

const KINDS: readonly ManagedWorkflowKind[] = ['image', 'container'];

/** The six managed workflows, machine images' first. */
export const MANAGED_WORKFLOWS: readonly ManagedWorkflow[] = KINDS.flatMap((kind): ManagedWorkflow[] => {
  const what = kind === 'image' ? 'machine images' : 'container images';
  return [
    { name: `build-${kind}`, type: 'BUILD', kind, description: `Build workflow for ${what}`, data: buildDocument(kind) },
    { name: `test-${kind}`, type: 'TEST', kind, description: `Test workflow for ${what}`, data: testDocument(kind) },
    { name: `distribute-${kind}`, type: 'DISTRIBUTION', kind, description: `Distribution workflow for ${what}`, data: distributeDocument(kind) },
  ];
});

/** The ARN resource type of a workflow type: `workflow/build`, `workflow/test`, `workflow/distribution`. */
export function workflowResourceType(type: WorkflowType): string {
  return `workflow/${type.toLowerCase()}`;
}

/** The managed workflow of a stage for one kind of image. */
export function managedWorkflow(kind: ManagedWorkflowKind, stage: WorkflowType): ManagedWorkflow {
  return MANAGED_WORKFLOWS.find((w) => w.kind === kind && w.type === stage)!;
}

/** The build version ARN of the managed workflow the engine runs for a stage of one kind of image in `region`. */
export function managedWorkflowArn(region: string, kind: ManagedWorkflowKind, stage: WorkflowType): string {
  const wf = managedWorkflow(kind, stage);
  return formatArn({ partition: 'aws', region, owner: OWNER, resourceType: workflowResourceType(stage), name: wf.name, version: MANAGED_WORKFLOW_VERSION, build: MANAGED_WORKFLOW_BUILD });
}
