import { formatArn, nameToSlug, parseArn } from '../domain/arn.js';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { latestSelectors, matchesFilter, parseSemver, parseVersionFilter, resolveLatest } from '../domain/semver.js';
import { inspectWorkflowDocument, type WorkflowParameterDetail, type WorkflowType } from '../domain/workflow-document.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { inputHash } from './idempotency.js';
import type { OperationHandler, RequestContext } from './types.js';

const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const TYPES: readonly WorkflowType[] = ['BUILD', 'TEST', 'DISTRIBUTION'];
/** The model's limit for inline `data`. */
const MAX_DATA = 16000;
const LIST_FILTERS = new Set(['name', 'type', 'version', 'description']);

/** The store keeps each workflow type under its ARN resource type, so ARNs and records line up. */
const storeType = (type: WorkflowType): string => `workflow/${type.toLowerCase()}`;

/** The fields a workflow keeps besides its ARN, name slug, version and build. */
interface WorkflowData {
  name: string;
  type: WorkflowType;
  description?: string;
  changeDescription?: string;
  data: string;
  kmsKeyId?: string;
  tags?: Record<string, string>;
  parameters: WorkflowParameterDetail[];
  dateCreated: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function baseArn(region: string, owner: string, type: string, slug: string, version?: string): string {
  return formatArn({ partition: 'aws', region, owner, resourceType: type, name: slug, ...(version === undefined ? {} : { version }) });
}

function latestVersionReferences(record: ResourceRecord): Record<string, string> {
  const s = latestSelectors(parseSemver(record.version)!);
  const arn = (v: string) => baseArn(record.region, record.accountId, record.type, record.name, v);
  return { latestVersionArn: arn(s.latest), latestMajorVersionArn: arn(s.major), latestMinorVersionArn: arn(s.minor), latestPatchVersionArn: arn(s.patch) };
}

function toWorkflow(record: ResourceRecord): Record<string, unknown> {
  const d = record.data as unknown as WorkflowData;
  return {
    arn: record.arn,
    name: d.name,
    version: record.version,
    description: d.description,
    changeDescription: d.changeDescription,
    type: d.type,
    state: { status: 'ACTIVE' },
    owner: record.accountId,
    data: d.data,
    kmsKeyId: d.kmsKeyId,
    dateCreated: d.dateCreated,
    tags: d.tags ?? {},
    parameters: d.parameters,
  };
}

/** A workflow ARN the caller may address: its own account and region, one of the three workflow types. */
function callerArn(ctx: RequestContext, text: unknown, field: string) {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || !arn.resourceType.startsWith('workflow/') || arn.version === undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid workflow ARN (…:workflow/<build|test|distribution>/<name>/<version>[/<build>]): ${String(text)}`);
  }
  if (arn.region !== ctx.region || arn.owner !== ctx.accountId) {
    throw new KilnError('NotFound', `The workflow ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  }
  return arn;
}

/** Finds the build a (possibly wildcard, possibly build-less) workflow ARN designates. */
async function resolveWorkflow(store: Store, ctx: RequestContext, text: unknown, field: string): Promise<ResourceRecord> {
  const arn = callerArn(ctx, text, field);
  const filter = parseVersionFilter(arn.version!);
  if (!filter) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
  const all = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: arn.resourceType, name: arn.name });
  const best = resolveLatest(all.map((r) => ({ ...parseSemver(r.version)!, record: r })), filter);
  const builds = best ? all.filter((r) => r.version === best.record.version) : [];
  const record = arn.build === undefined ? builds[builds.length - 1] : builds.find((r) => r.build === arn.build);
  if (!record) throw new KilnError('NotFound', `The workflow ${String(text)} does not exist.`);
  return record;
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

    const slug = nameToSlug(name);
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
    const token = str(input.clientToken);
    const { record: created } = await store.createResource(
      { accountId: ctx.accountId, region: ctx.region, type: storeType(type), name: slug, version, arn: baseArn(ctx.region, ctx.accountId, storeType(type), slug, version), data: { ...record }, build: 'first' },
      token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) },
    );
    return { clientToken: token, workflowBuildVersionArn: created.arn, latestVersionReferences: latestVersionReferences(created) };
  };
}

function getWorkflow(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveWorkflow(store, ctx, input.workflowBuildVersionArn, 'workflowBuildVersionArn');
    return { workflow: toWorkflow(record), latestVersionReferences: latestVersionReferences(record) };
  };
}

function applyFilters(records: ResourceRecord[], filters: unknown): ResourceRecord[] {
  if (!Array.isArray(filters)) return records;
  let out = records;
  filters.forEach((f: { name?: string; values?: string[] }, i) => {
    const key = f.name ?? '';
    if (!LIST_FILTERS.has(key)) throw new KilnError('InvalidArgument', `filters[${i}].name '${key}' is not a filter of ListWorkflows; use one of ${[...LIST_FILTERS].join(', ')}.`);
    const values = new Set(f.values ?? []);
    out = out.filter((r) => values.has(String(toWorkflow(r)[key] ?? '')));
  });
  return out;
}

function listWorkflows(store: Store): OperationHandler {
  return async (input, ctx) => {
    const owner = str(input.owner) ?? 'Self';
    if (!['Self', 'Shared', 'Amazon', 'ThirdParty', 'AWSMarketplace'].includes(owner)) throw new KilnError('InvalidArgument', `The value supplied for parameter 'owner' is not valid: ${owner}`);
    // Kiln-managed workflows (owner Amazon) and shared ones arrive with the bootstrap and resource policies.
    const records = owner === 'Self' ? (await Promise.all(TYPES.map((t) => store.listResources({ accountId: ctx.accountId, region: ctx.region, type: storeType(t) })))).flat() : [];
    records.sort((a, b) => (a.name === b.name ? 0 : a.name < b.name ? -1 : 1) || compareVersion(a, b) || a.type.localeCompare(b.type));
    const versions = applyFilters(records, input.filters).filter((r, i, all) => all.findIndex((o) => o.type === r.type && o.name === r.name && o.version === r.version) === i);
    const page = paginate(versions, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null, input.byName ?? null]));
    const list = page.items.map((r) => {
      const d = r.data as unknown as WorkflowData;
      return { arn: baseArn(r.region, r.accountId, r.type, r.name, r.version), name: d.name, version: r.version, description: d.description, type: d.type, owner: r.accountId, dateCreated: d.dateCreated };
    });
    return { workflowVersionList: list, nextToken: page.nextToken };
  };
}

function compareVersion(a: ResourceRecord, b: ResourceRecord): number {
  const x = parseSemver(a.version)!;
  const y = parseSemver(b.version)!;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

function listWorkflowBuildVersions(store: Store): OperationHandler {
  return async (input, ctx) => {
    const arn = callerArn(ctx, input.workflowVersionArn, 'workflowVersionArn');
    if (arn.build !== undefined || !parseSemver(arn.version!)) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'workflowVersionArn' must be a workflow version ARN (…/workflow/<type>/<name>/<major>.<minor>.<patch>): ${String(input.workflowVersionArn)}`);
    }
    const builds = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: arn.resourceType, name: arn.name, version: arn.version });
    const page = paginate(builds, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, arn]));
    const list = page.items.map((r) => {
      const { data: _data, kmsKeyId: _kms, parameters: _params, ...summary } = toWorkflow(r);
      return summary;
    });
    return { workflowSummaryList: list, nextToken: page.nextToken };
  };
}

/** Pipelines of the account whose workflows would resolve to this build (exact, version or wildcard ARN). */
async function pipelinesUsing(store: Store, record: ResourceRecord): Promise<string[]> {
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

function deleteWorkflow(store: Store): OperationHandler {
  return async (input, ctx) => {
    const arn = callerArn(ctx, input.workflowBuildVersionArn, 'workflowBuildVersionArn');
    if (arn.build === undefined || !parseSemver(arn.version!)) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'workflowBuildVersionArn' must be a workflow build version ARN (…/<version>/<build>): ${String(input.workflowBuildVersionArn)}`);
    }
    const arnText = formatArn(arn);
    const record = await store.getResource(arnText);
    if (!record) throw new KilnError('NotFound', `The workflow ${arnText} does not exist.`);
    const users = await pipelinesUsing(store, record);
    if (users.length > 0) throw new KilnError('DependencyExists', `The workflow ${arnText} is used by image pipeline${users.length > 1 ? 's' : ''} ${users.join(', ')}; change those pipelines first.`);
    if (!(await store.deleteResource(arnText))) throw new KilnError('NotFound', `The workflow ${arnText} does not exist.`);
    return { workflowBuildVersionArn: arnText };
  };
}

/** The workflow family: CreateWorkflow, GetWorkflow, ListWorkflows, ListWorkflowBuildVersions, DeleteWorkflow. */
export function workflowHandlers(store: Store): Record<string, OperationHandler> {
  return {
    CreateWorkflow: createWorkflow(store),
    GetWorkflow: getWorkflow(store),
    ListWorkflows: listWorkflows(store),
    ListWorkflowBuildVersions: listWorkflowBuildVersions(store),
    DeleteWorkflow: deleteWorkflow(store),
  };
}
