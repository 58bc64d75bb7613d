/**
 * ImportVmImage and ImportDiskImage. An import task (`kiln images import`, Kiln's ImportImage) holds a disk
 * already checked and stored, so ImportVmImage makes its image at once: an AMI image build version owned by the
 * caller, AVAILABLE, built by `IMPORT` from source `IMPORTED`, whose disk is the task's and whose output is the
 * task's machine image (`ami-…`, named by the task id as EC2 names an imported AMI). Recipes take it as their
 * parentImage like any machine image. ImportDiskImage (a Windows ISO) is refused: Kiln does not install Windows.
 */
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';
import { nameToSlug } from '../domain/arn.js';
import { idempotencyKey } from '../resources/idempotency.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { versionedArn } from '../store/versioned.js';
import { findImportTask, importTaskData, isImportTaskId } from '../builder/machine/import-tasks.js';
import { signMachineDisk } from '../builder/stages/image-signatures.js';
import { MACHINE_IMAGE_TYPE, machineImageData, registerMachineImage } from '../builder/machine/machine-images.js';
import { IMAGE_TYPE, type ImageData } from './image-family.js';
import { checkCommon } from './recipe-input.js';
import type { OperationHandler, RequestContext } from './types.js';

const FIELD = 'vmImportTaskId';

function checkInput(input: Record<string, unknown>): Issue[] {
  const issues = checkCommon(input);
  const platform = str(input.platform);
  if (platform !== 'Linux') issues.push({ path: 'platform', message: platform === 'Windows' ? 'Kiln imports Linux images only' : `must be Linux, got '${String(platform)}'` });
  const task = str(input.vmImportTaskId) ?? '';
  if (!isImportTaskId(task)) issues.push({ path: FIELD, message: `must be an import task id (import-ami- and 17 hex digits, as \`kiln images import\` answers), got '${task}'` });
  return issues;
}

/** The task's machine image in the caller's account: registered by the first ImportVmImage that named the task. */
async function taskMachineImage(store: Store, ctx: RequestContext, task: ResourceRecord, imageArn: string, description: string | undefined): Promise<ResourceRecord> {
  const taskId = task.name;
  const existing = (await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: MACHINE_IMAGE_TYPE })).find((r) => machineImageData(r).name === taskId);
  if (existing) return existing;
  return registerMachineImage(store, { accountId: ctx.accountId, region: ctx.region, name: taskId, ...(description ? { description } : {}), sourceImageArn: imageArn, disk: importTaskData(task).disk });
}

function importVmImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    const issues = checkInput(input);
    if (issues.length > 0) throw validationError('The image import', issues);
    const taskId = input.vmImportTaskId as string;
    const task = await findImportTask(store, ctx.accountId, ctx.region, taskId);
    if (!task) throw new KilnError('NotFound', `${FIELD}: the import task ${taskId} does not exist in account ${ctx.accountId} in ${ctx.region}.`, [{ path: FIELD, message: 'no such import task' }]);
    const name = input.name as string;
    const slug = nameToSlug(name);
    const version = input.semanticVersion as string;
    const description = str(input.description);
    const found = importTaskData(task);
    const data: ImageData & { description?: string; importTask: string; machine: JsonObject; guest?: unknown; inventory?: unknown } = {
      name,
      type: 'AMI',
      platform: 'Linux',
      ...(str(input.osVersion) ? { osVersion: str(input.osVersion)! } : {}),
      ...(description ? { description } : {}),
      state: { status: 'AVAILABLE' },
      // Nothing was built or tested: the image is the imported disk.
      imageTestsConfiguration: { imageTestsEnabled: false, timeoutMinutes: 720 },
      enhancedImageMetadataEnabled: false,
      ...(isJsonObject(input.loggingConfiguration) ? { loggingConfiguration: input.loggingConfiguration as { logGroupName?: string } } : {}),
      infrastructureConfiguration: {},
      buildType: 'IMPORT',
      imageSource: 'IMPORTED',
      tags: (input.tags as Record<string, string> | undefined) ?? {},
      dateCreated: new Date().toISOString(),
      importTask: taskId,
      machine: { disk: found.disk as unknown as JsonObject },
      // What the import read on the disk: vm builds check `guest` before booting it; ListImagePackages, scans and
      // SBOMs read the packages and inventory as they do a built image's.
      ...(found.guest ? { guest: found.guest } : {}),
      ...(found.inventory ? { inventory: found.inventory } : {}),
      packages: (found.packages ?? []) as unknown as JsonObject[],
      outputResources: { amis: [] },
    };
    const { record, created } = await store.createResource(
      { accountId: ctx.accountId, region: ctx.region, type: IMAGE_TYPE, name: slug, version, arn: versionedArn(ctx.region, ctx.accountId, IMAGE_TYPE, slug, version), data: JSON.parse(JSON.stringify(data)) as JsonObject, build: 'assign' },
      idempotencyKey(ctx, input),
    );
    if (created) {
      const ami = machineImageData(await taskMachineImage(store, ctx, task, record.arn, description));
      // Signed as built images are: `kiln images verify` then checks the imported disk is the one stored.
      const signature = await signMachineDisk(store, ctx.accountId, record.arn, importTaskData(task).disk.digest);
      await store.updateResource(record.arn, (current) => ({ ...current.data, signature: JSON.parse(JSON.stringify(signature)) as JsonObject, outputResources: { amis: [{ region: ctx.region, image: ami.amiId, name: ami.name, ...(description ? { description } : {}), accountId: ctx.accountId }] } }));
    }
    return { requestId: ctx.requestId, imageArn: record.arn, clientToken: str(input.clientToken) };
  };
}

const importDiskImage: OperationHandler = async () => {
  throw new KilnError('InvalidRequest', 'ImportDiskImage (an image built from a Windows ISO) is not supported by Kiln, which builds Linux images; import a Linux VM disk with `kiln images import` and ImportVmImage instead.');
};

/** ImportVmImage over Kiln's import tasks, and ImportDiskImage's refusal. */
export function vmImportHandlers(store: Store): Record<string, OperationHandler> {
  return { ImportVmImage: importVmImage(store), ImportDiskImage: importDiskImage };
}
