import { checkNonEmpty, checkTagMap } from '../domain/distribution-rules.js';
import { validationError, type Issue } from '../domain/errors.js';
import { resolveInstanceType } from '../domain/instance-types.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { assertNoPipelineUses, checkName, configGetter, createConfig, listConfigs, replaceConfig, resolveConfig } from './config-resources.js';
import type { OperationHandler } from './types.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';

const TYPE = 'infrastructure-configuration';
const LABEL = 'infrastructure configuration';
const INSTANCE_PROFILE_RE = /^[\w+=,.@-]{1,256}$/;
const SNS_TOPIC_ARN_RE = /^arn:aws[^:]*:sns:[^:]+:[0-9]{12}:[a-zA-Z0-9-_]{1,256}$/;
const TENANCIES = ['default', 'dedicated', 'host'];
const MAX_RESOURCE_TAGS = 30;
const MAX_TAGS = 50;

/** The fields Update replaces: every one of them, absent ones included (AWS has no partial update). */
const MUTABLE_FIELDS = [
  'description',
  'instanceTypes',
  'instanceProfileName',
  'securityGroupIds',
  'subnetId',
  'logging',
  'keyPair',
  'terminateInstanceOnFailure',
  'snsTopicArn',
  'resourceTags',
  'instanceMetadataOptions',
  'placement',
] as const;


/** Every value rule on the mutable fields, with paths; the model's types were checked at the API edge. */
function checkMutable(input: JsonObject): Issue[] {
  const issues: Issue[] = [];
  const profile = input.instanceProfileName;
  if (typeof profile !== 'string' || !INSTANCE_PROFILE_RE.test(profile)) {
    issues.push({ path: 'instanceProfileName', message: 'must be 1-256 letters, digits or +=,.@-_ (Kiln records it; IAM has no meaning here)' });
  }
  checkNonEmpty(input.description, 'description', issues);
  (Array.isArray(input.instanceTypes) ? input.instanceTypes : []).forEach((t, i) => {
    if (typeof t !== 'string' || !resolveInstanceType(t)) {
      issues.push({ path: `instanceTypes[${i}]`, message: `'${String(t)}' is neither a Kiln instance type (ns.small, ns.medium, ns.large, vm.small, vm.medium, vm.large) nor an EC2 type name such as t3.micro` });
    }
  });
  (Array.isArray(input.securityGroupIds) ? input.securityGroupIds : []).forEach((g, i) => checkNonEmpty(g, `securityGroupIds[${i}]`, issues, true));
  checkNonEmpty(input.subnetId, 'subnetId', issues);
  checkNonEmpty(input.keyPair, 'keyPair', issues);
  if (input.snsTopicArn !== undefined && (typeof input.snsTopicArn !== 'string' || !SNS_TOPIC_ARN_RE.test(input.snsTopicArn))) {
    issues.push({ path: 'snsTopicArn', message: `must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>), got '${String(input.snsTopicArn)}'` });
  }
  const logging = input.logging;
  if (isJsonObject(logging) && isJsonObject(logging.s3Logs)) {
    checkNonEmpty(logging.s3Logs.s3BucketName, 'logging.s3Logs.s3BucketName', issues);
    checkNonEmpty(logging.s3Logs.s3KeyPrefix, 'logging.s3Logs.s3KeyPrefix', issues);
  }
  checkTagMap(input.resourceTags, 'resourceTags', issues, MAX_RESOURCE_TAGS);
  const imds = input.instanceMetadataOptions;
  if (isJsonObject(imds)) {
    if (imds.httpTokens !== undefined && imds.httpTokens !== 'optional' && imds.httpTokens !== 'required') {
      issues.push({ path: 'instanceMetadataOptions.httpTokens', message: `must be optional or required, got '${String(imds.httpTokens)}'` });
    }
    const hops = imds.httpPutResponseHopLimit;
    if (hops !== undefined && (!Number.isInteger(hops) || (hops as number) < 1 || (hops as number) > 64)) {
      issues.push({ path: 'instanceMetadataOptions.httpPutResponseHopLimit', message: 'must be an integer from 1 to 64' });
    }
  }
  const placement = input.placement;
  if (isJsonObject(placement)) {
    if (placement.tenancy !== undefined && !TENANCIES.includes(String(placement.tenancy))) {
      issues.push({ path: 'placement.tenancy', message: `must be one of ${TENANCIES.join(', ')}, got '${String(placement.tenancy)}'` });
    }
    for (const f of ['availabilityZone', 'hostId', 'hostResourceGroupArn']) checkNonEmpty(placement[f], `placement.${f}`, issues);
    if (placement.hostId !== undefined && placement.hostResourceGroupArn !== undefined) {
      issues.push({ path: 'placement', message: 'give hostId or hostResourceGroupArn, not both' });
    }
    if ((placement.hostId !== undefined || placement.hostResourceGroupArn !== undefined) && placement.tenancy !== 'host') {
      issues.push({ path: 'placement.tenancy', message: "must be 'host' when hostId or hostResourceGroupArn is given" });
    }
  }
  return issues;
}

/** The stored mutable fields of a request; `terminateInstanceOnFailure` defaults to true as on AWS. */
function mutableData(input: JsonObject): JsonObject {
  const data: JsonObject = {};
  for (const f of MUTABLE_FIELDS) if (input[f] !== undefined && input[f] !== null) data[f] = input[f];
  data.terminateInstanceOnFailure = input.terminateInstanceOnFailure ?? true;
  return data;
}

function toInfrastructureConfiguration(record: ResourceRecord): JsonObject {
  const d = record.data;
  return {
    arn: record.arn,
    name: d.name,
    description: d.description,
    instanceTypes: d.instanceTypes,
    instanceProfileName: d.instanceProfileName,
    securityGroupIds: d.securityGroupIds,
    subnetId: d.subnetId,
    logging: d.logging,
    keyPair: d.keyPair,
    terminateInstanceOnFailure: d.terminateInstanceOnFailure,
    snsTopicArn: d.snsTopicArn,
    dateCreated: d.dateCreated,
    dateUpdated: d.dateUpdated,
    resourceTags: d.resourceTags,
    instanceMetadataOptions: d.instanceMetadataOptions,
    tags: d.tags ?? {},
    placement: d.placement,
  };
}

function toSummary(record: ResourceRecord): JsonObject {
  const c = toInfrastructureConfiguration(record);
  return {
    arn: c.arn,
    name: c.name,
    description: c.description,
    dateCreated: c.dateCreated,
    dateUpdated: c.dateUpdated,
    resourceTags: c.resourceTags,
    tags: c.tags,
    instanceTypes: c.instanceTypes,
    instanceProfileName: c.instanceProfileName,
    placement: c.placement,
  };
}

function create(store: Store): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [];
    checkName(input.name, issues);
    issues.push(...checkMutable(input));
    checkTagMap(input.tags, 'tags', issues, MAX_TAGS);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const data: JsonObject = { name: input.name, ...mutableData(input), tags: input.tags, dateCreated: new Date().toISOString() };
    const record = await createConfig(store, ctx, TYPE, input.name as string, data, input);
    return { clientToken: input.clientToken, infrastructureConfigurationArn: record.arn };
  };
}

function list(store: Store): OperationHandler {
  return async (input, ctx) => {
    const page = await listConfigs(store, ctx, TYPE, input);
    return { infrastructureConfigurationSummaryList: page.items.map(toSummary), nextToken: page.nextToken };
  };
}

function update(store: Store): OperationHandler {
  return async (input, ctx) => {
    const existing = await resolveConfig(store, ctx, TYPE, input.infrastructureConfigurationArn, 'infrastructureConfigurationArn', LABEL);
    const issues = checkMutable(input);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const d = existing.data;
    const data: JsonObject = { name: d.name, ...mutableData(input), tags: d.tags, dateCreated: d.dateCreated, dateUpdated: new Date().toISOString() };
    await replaceConfig(store, ctx, existing, data, input);
    return { clientToken: str(input.clientToken), infrastructureConfigurationArn: existing.arn };
  };
}

function remove(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveConfig(store, ctx, TYPE, input.infrastructureConfigurationArn, 'infrastructureConfigurationArn', LABEL);
    await assertNoPipelineUses(store, record, 'infrastructureConfigurationArn', LABEL);
    await store.deleteResource(record.arn);
    return { infrastructureConfigurationArn: record.arn };
  };
}

/** The infrastructure-configuration operations: Create, Get, List, Update, Delete. */
export function infrastructureConfigurationHandlers(store: Store): Record<string, OperationHandler> {
  return {
    CreateInfrastructureConfiguration: create(store),
    GetInfrastructureConfiguration: configGetter(store, TYPE, LABEL, 'infrastructureConfigurationArn', 'infrastructureConfiguration', toInfrastructureConfiguration),
    ListInfrastructureConfigurations: list(store),
    UpdateInfrastructureConfiguration: update(store),
    DeleteInfrastructureConfiguration: remove(store),
  };
}
