import { parseArn } from '../domain/arn.js';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { matchesFilter, parseSemver, parseVersionFilter } from '../domain/semver.js';
import { inspectWorkflowDocument, type WorkflowParameterDetail, type WorkflowType } from '../domain/workflow-document.js';
import type { VersionedFamily } from '../resources/family.js';
import type { TypedRecord } from '../resources/typed-record.js';
import { createVersion } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import { ensureManagedRecord } from '../resources/managed-records.js';
import { MANAGED_WORKFLOWS, MANAGED_WORKFLOW_VERSION, workflowResourceType } from '../domain/managed-workflows.js';
import type { OperationHandler } from './types.js';
import { createdAnswer, documentHead, versionedHandlers, versionedWire } from './versioned-handlers.js';
import { str, type JsonObject } from '../domain/json.js';

const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const TYPES: readonly WorkflowType[] = ['BUILD', 'TEST', 'DISTRIBUTION'];
/** The model's limit for inline `data`. */
const MAX_DATA = 16000;

/** The store keeps each workflow type under its ARN resource type, so ARNs and records line up. */
const storeType = workflowResourceType;

/** The fields a workflow keeps besides its ARN, name slug, version and build. */
type WorkflowData = {
  name: string;
  type: WorkflowType;
  description?: string;
  changeDescription?: string;
  data: string;
  kmsKeyId?: string;
  tags?: Record<string, string>;
  parameters: WorkflowParameterDetail[];
  dateCreated: string;
};

/** How workflows differ from the other versioned families (src/resources/versioned.ts does the rest). */
const family: VersionedFamily<WorkflowData> = {
  noun: 'workflow',
  types: TYPES.map(storeType),
  builds: true,
  // AWS has no workflow policies, so nothing is shared; the managed workflows (owner Amazon) are everyone's.
  shared: false,
  managed: true,
  listOperation: 'ListWorkflows',
  pageQuery: ['byName'],
  arn: {
    matches: (type) => type.startsWith('workflow/'),
    shape: '…:workflow/<build|test|distribution>/<name>/<version>[/<build>]',
    versionShape: '…/workflow/<type>/<name>/<major>.<minor>.<patch>',
    versionRequired: true,
    hiddenNoun: 'workflow',
  },
  filters: ['name', 'type', 'version', 'description'],
  toShape: toWorkflow,
  toVersionSummary: (r, arn) => ({ arn, name: r.data.name, version: r.version, description: r.data.description, type: r.data.type, owner: r.accountId, dateCreated: r.data.dateCreated }),
  toBuildSummary: (r) => {
    const { data: _data, kmsKeyId: _kms, parameters: _params, ...summary } = toWorkflow(r);
    return summary;
  },
  dependents: pipelinesUsing,
  inUse: (arn, users) => `The workflow ${arn} is used by image pipeline${users.length > 1 ? 's' : ''} ${users.join(', ')}; change those pipelines first.`,
};

const wire = versionedWire('Workflow');

function toWorkflow(record: TypedRecord<WorkflowData>): JsonObject {
  const d = record.data;
  return {
    ...documentHead(record),
    state: { status: 'ACTIVE' },
    owner: record.accountId,
    data: d.data,
    kmsKeyId: d.kmsKeyId,
    dateCreated: d.dateCreated,
    tags: d.tags ?? {},
    parameters: d.parameters,
  };
}

/** Pipelines of the account whose workflows would resolve to this build (exact, version or wildcard ARN). */
async function pipelinesUsing(store: Store, record: TypedRecord<WorkflowData>): Promise<string[]> {
  const pipelines = await store.listResources({ accountId: record.accountId, region: record.region, type: 'image-pipeline' });
  const version = parseSemver(record.version)!;
  return pipelines
    .filter((p) =>
      ((p.data.workflows as { workflowArn?: string }[] | undefined) ?? []).some((w) => {
        const arn = parseArn(w.workflowArn ?? '');
        if (!arn || arn.owner !== record.accountId || arn.resourceType !== record.type || arn.name !== record.name) return false;
        if (arn.build !== undefined) return arn.version === record.version && arn.build === record.build;
        const filter = parseVersionFilter(arn.version ?? '');
        return filter !== undefined && matchesFilter(version, filter);
      }),
    )
    .map((p) => p.arn);
}

/** CreateWorkflow: validates the document for its type, assigns build 1 of a new version, honours clientToken and dryRun. */
function createWorkflow(store: Store): OperationHandler {
  return async (input, ctx) => {
    if (input.data !== undefined && input.uri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'data' and 'uri' are mutually exclusive; send exactly one.");
    }
    if (input.uri !== undefined) throw new KilnError('InvalidArgument', "Kiln does not fetch workflow documents by 'uri' yet; send the document inline as 'data'.");
    const issues: Issue[] = [];
    const name = str(input.name) ?? '';
    if (!NAME_RE.test(name)) issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
    const version = str(input.semanticVersion) ?? '';
    if (!parseSemver(version)) issues.push({ path: 'semanticVersion', message: 'must be <major>.<minor>.<patch>, each 0-1073741823 (the service assigns the build number)' });
    const type = str(input.type) as WorkflowType;
    if (!TYPES.includes(type)) issues.push({ path: 'type', message: 'must be BUILD, TEST or DISTRIBUTION' });
    const data = str(input.data);
    let parameters: WorkflowParameterDetail[] = [];
    if (data === undefined) issues.push({ path: 'data', message: "is required (or 'uri')" });
    else if (data.length > MAX_DATA) issues.push({ path: 'data', message: `is ${data.length} characters; the limit is ${MAX_DATA}` });
    else if (TYPES.includes(type)) {
      const doc = inspectWorkflowDocument(data, type);
      issues.push(...doc.issues.map((i) => ({ path: i.path === '' ? 'data' : `data: ${i.path}`, message: i.message })));
      parameters = doc.parameters;
    }
    if (issues.length > 0) throw validationError('The workflow', issues);
    if (input.dryRun === true) throw new KilnError('DryRun', 'The request would have succeeded, but the dryRun flag is set.');

    const record: WorkflowData = {
      name,
      type,
      description: str(input.description),
      changeDescription: str(input.changeDescription),
      data: data!,
      kmsKeyId: str(input.kmsKeyId),
      tags: input.tags as Record<string, string> | undefined,
      parameters,
      dateCreated: new Date().toISOString(),
    };
    const created = await createVersion(store, ctx, family, storeType(type), name, version, record, input);
    return createdAnswer(wire, input, created);
  };
}

/** The workflow family: CreateWorkflow, GetWorkflow, ListWorkflows, ListWorkflowBuildVersions, DeleteWorkflow. */
export function workflowHandlers(store: Store): Record<string, OperationHandler> {
  return { CreateWorkflow: createWorkflow(store), ...versionedHandlers(store, family, wire) };
}

/**
 * Makes sure every region lists AWS's managed workflows (owner `aws`, src/domain/managed-workflows.ts) as build 1
 * of their version. A stored one whose document or description differs from Kiln's is brought up to date, so
 * what GetWorkflow serves stays what the engine runs.
 */
export async function registerManagedWorkflows(store: Store, regions: readonly string[], now = new Date()): Promise<void> {
  for (const region of regions) {
    for (const wf of MANAGED_WORKFLOWS) {
      const type = storeType(wf.type);
      const data: WorkflowData = { name: wf.name, type: wf.type, description: wf.description, data: wf.data, parameters: inspectWorkflowDocument(wf.data, wf.type).parameters, dateCreated: now.toISOString() };
      await ensureManagedRecord(store, { region, type, name: wf.name, version: MANAGED_WORKFLOW_VERSION, data }, {
        refresh: (stored) => (stored.data.data !== wf.data || stored.data.description !== wf.description ? { description: wf.description, data: wf.data, parameters: data.parameters } : undefined),
      });
    }
  }
}
