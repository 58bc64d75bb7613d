import { checkDistributions, checkNonEmpty, checkTagMap, distributionRegions, type RegionRule } from '../domain/distribution-rules.js';
import { validationError, type Issue } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { assertNoPipelineUses, checkName, configGetter, createConfig, listConfigs, replaceConfig, resolveConfig } from './config-resources.js';
import type { OperationHandler } from './types.js';
import { str, type JsonObject } from '../domain/json.js';

const TYPE = 'distribution-configuration';
const LABEL = 'distribution configuration';
const MAX_TAGS = 50;
/** AWS reports this member but lets nobody set it ("a property that Image Builder doesn't use"); its maximum. */
const TIMEOUT_MINUTES = 720;


function checkMutable(input: JsonObject, rule: RegionRule): Issue[] {
  const issues: Issue[] = [];
  checkNonEmpty(input.description, 'description', issues);
  issues.push(...checkDistributions(input.distributions, rule));
  return issues;
}

function toDistributionConfiguration(record: ResourceRecord): JsonObject {
  const d = record.data;
  return {
    arn: record.arn,
    name: d.name,
    description: d.description,
    distributions: d.distributions,
    timeoutMinutes: TIMEOUT_MINUTES,
    dateCreated: d.dateCreated,
    dateUpdated: d.dateUpdated,
    tags: d.tags ?? {},
  };
}

function toSummary(record: ResourceRecord): JsonObject {
  const d = record.data;
  return {
    arn: record.arn,
    name: d.name,
    description: d.description,
    dateCreated: d.dateCreated,
    dateUpdated: d.dateUpdated,
    tags: d.tags ?? {},
    regions: distributionRegions(d.distributions),
  };
}

function create(store: Store, rule: RegionRule): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [];
    checkName(input.name, issues);
    issues.push(...checkMutable(input, rule));
    checkTagMap(input.tags, 'tags', issues, MAX_TAGS);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const data: JsonObject = { name: input.name, description: input.description, distributions: input.distributions, tags: input.tags, dateCreated: new Date().toISOString() };
    const record = await createConfig(store, ctx, TYPE, input.name as string, data, input);
    return { clientToken: input.clientToken, distributionConfigurationArn: record.arn };
  };
}

function list(store: Store): OperationHandler {
  return async (input, ctx) => {
    const page = await listConfigs(store, ctx, TYPE, input);
    return { distributionConfigurationSummaryList: page.items.map(toSummary), nextToken: page.nextToken };
  };
}

function update(store: Store, rule: RegionRule): OperationHandler {
  return async (input, ctx) => {
    const existing = await resolveConfig(store, ctx, TYPE, input.distributionConfigurationArn, 'distributionConfigurationArn', LABEL);
    const issues = checkMutable(input, rule);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const d = existing.data;
    // Update replaces description and distributions wholesale; name and tags stay.
    const data: JsonObject = { name: d.name, description: input.description, distributions: input.distributions, tags: d.tags, dateCreated: d.dateCreated, dateUpdated: new Date().toISOString() };
    await replaceConfig(store, ctx, existing, data, input);
    return { clientToken: str(input.clientToken), distributionConfigurationArn: existing.arn };
  };
}

function remove(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveConfig(store, ctx, TYPE, input.distributionConfigurationArn, 'distributionConfigurationArn', LABEL);
    await assertNoPipelineUses(store, record, 'distributionConfigurationArn', LABEL);
    await store.deleteResource(record.arn);
    return { distributionConfigurationArn: record.arn };
  };
}

/**
 * The distribution-configuration operations: Create, Get, List, Update, Delete. `rule.regions` are Kiln's
 * configured regions; without them only the shape of each region name can be checked.
 */
export function distributionConfigurationHandlers(store: Store, rule: RegionRule = {}): Record<string, OperationHandler> {
  return {
    CreateDistributionConfiguration: create(store, rule),
    GetDistributionConfiguration: configGetter(store, TYPE, LABEL, 'distributionConfigurationArn', 'distributionConfiguration', toDistributionConfiguration),
    ListDistributionConfigurations: list(store),
    UpdateDistributionConfiguration: update(store, rule),
    DeleteDistributionConfiguration: remove(store),
  };
}
