import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { MANAGED_COMPONENTS } from '../domain/managed-components.js';
import { parseSemver } from '../domain/semver.js';
import type { VersionedFamily } from '../resources/family.js';
import type { TypedRecord } from '../resources/typed-record.js';
import { createVersion } from '../resources/versioned.js';
import { recipesUsingComponent } from '../store/component-refs.js';
import type { Store } from '../store/store.js';
import { ensureManagedRecord } from '../resources/managed-records.js';
import { inspectComponentDocument } from './component-document.js';
import { fetchComponentDocument } from './component-uri.js';
import type { OperationHandler } from './types.js';
import { createdAnswer, documentHead, versionedHandlers, versionedWire } from './versioned-handlers.js';
import { str, type JsonObject } from '../domain/json.js';

const TYPE = 'component';
const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const PLATFORMS = new Set(['Linux', 'Windows', 'macOS']);
/** The model's limit for inline `data`; larger documents go by `uri`. */
const MAX_DATA = 16000;

/** The fields a component keeps besides its ARN, name slug, version and build. */
type ComponentData = {
  name: string;
  description?: string;
  changeDescription?: string;
  type: 'BUILD' | 'TEST';
  platform: string;
  supportedOsVersions?: string[];
  parameters: unknown[];
  data: string;
  kmsKeyId?: string;
  tags?: Record<string, string>;
  dateCreated: string;
};

/** How components differ from the other versioned families (src/resources/versioned.ts does the rest). */
const family: VersionedFamily<ComponentData> = {
  noun: 'component',
  types: [TYPE],
  builds: true,
  shared: true,
  // Kiln's Amazon-managed components (src/domain/managed-components.ts): everyone's to read, nobody's to delete.
  managed: true,
  listOperation: 'ListComponents',
  pageQuery: ['byName'],
  arn: {
    matches: (type) => type === TYPE,
    versionShape: '…/component/<name>/<major>.<minor>.<patch>',
    versionRequired: false,
    wildcardBuild: (_field, text) => `A build number needs a full version: ${text}`,
    hiddenNoun: 'resource',
  },
  filters: ['description', 'name', 'platform', 'supportedOsVersion', 'type', 'version'],
  filterMatch: { supportedOsVersion: (c, values) => ((c.supportedOsVersions as string[] | undefined) ?? []).some((v) => values.has(v)) },
  toShape: toComponent,
  toVersionSummary: (r, arn) => ({ ...toComponent(r), arn, status: 'ACTIVE' }),
  toBuildSummary: toComponent,
  dependents: recipesUsingComponent,
  inUse: (arn, users) => `The component ${arn} is used by ${users.join(', ')}; delete or change those recipes first.`,
};

const wire = versionedWire('Component');

function toComponent(record: TypedRecord<ComponentData>): JsonObject {
  const d = record.data;
  return {
    ...documentHead(record),
    platform: d.platform,
    supportedOsVersions: d.supportedOsVersions,
    state: { status: 'ACTIVE' },
    parameters: d.parameters,
    owner: record.accountId,
    data: d.data,
    kmsKeyId: d.kmsKeyId,
    encrypted: true,
    dateCreated: d.dateCreated,
    tags: d.tags ?? {},
  };
}

function checkCreate(input: JsonObject): Issue[] {
  const issues: Issue[] = [];
  const name = str(input.name) ?? '';
  if (!NAME_RE.test(name)) issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
  if (!parseSemver(str(input.semanticVersion) ?? '')) {
    issues.push({ path: 'semanticVersion', message: "must be <major>.<minor>.<patch>, each 0-1073741823 (the service assigns the build number)" });
  }
  if (!PLATFORMS.has(str(input.platform) ?? '')) issues.push({ path: 'platform', message: 'must be Linux, Windows or macOS' });
  return issues;
}

/** CreateComponent: validates the document, assigns build 1 of a new version, honours clientToken and dryRun. */
function createComponent(store: Store): OperationHandler {
  return async (input, ctx) => {
    if (input.data !== undefined && input.uri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'data' and 'uri' are mutually exclusive; send exactly one.");
    }
    const issues = checkCreate(input);
    const fromUri = input.uri === undefined ? undefined : await fetchComponentDocument(input.uri);
    if (fromUri !== undefined && 'problem' in fromUri) issues.push({ path: 'uri', message: fromUri.problem });
    const data = fromUri === undefined ? str(input.data) : 'document' in fromUri ? fromUri.document : undefined;
    if (fromUri === undefined && data === undefined) issues.push({ path: 'data', message: "is required (or 'uri')" });
    else if (fromUri === undefined && data !== undefined && data.length > MAX_DATA) issues.push({ path: 'data', message: `is ${data.length} characters; the limit is ${MAX_DATA}, larger documents go by 'uri'` });
    const doc = data === undefined ? undefined : inspectComponentDocument(data);
    const docField = fromUri === undefined ? 'data' : 'uri';
    if (doc) issues.push(...doc.issues.map((i) => ({ path: i.path === '(document)' ? docField : `${docField}: ${i.path}`, message: i.message })));
    if (issues.length > 0) throw validationError('The component', issues);
    if (input.dryRun === true) throw new KilnError('DryRun', 'The request would have succeeded, but the dryRun flag is set.');

    const record: ComponentData = {
      name: input.name as string,
      description: str(input.description),
      changeDescription: str(input.changeDescription),
      type: doc!.type,
      platform: input.platform as string,
      supportedOsVersions: input.supportedOsVersions as string[] | undefined,
      parameters: doc!.parameters,
      data: data!,
      kmsKeyId: str(input.kmsKeyId),
      tags: input.tags as Record<string, string> | undefined,
      dateCreated: new Date().toISOString(),
    };
    const created = await createVersion(store, ctx, family, TYPE, record.name, input.semanticVersion as string, record, input);
    return createdAnswer(wire, input, created);
  };
}

/** The component family: CreateComponent, GetComponent, ListComponents, ListComponentBuildVersions, DeleteComponent. */
export function componentHandlers(store: Store): Record<string, OperationHandler> {
  return { CreateComponent: createComponent(store), ...versionedHandlers(store, family, wire) };
}

/**
 * Makes sure every region lists Kiln's Amazon-managed components (owner `aws`, src/domain/managed-components.ts)
 * as build 1 of their version. A stored one whose document or description differs from Kiln's is brought up to
 * date, so what GetComponent serves stays what builds run. A document that fails Kiln's own validator is a bug
 * in Kiln: it throws, naming the component, rather than serving a component no build could run.
 */
export async function registerManagedComponents(store: Store, regions: readonly string[], now = new Date()): Promise<void> {
  const documents = MANAGED_COMPONENTS.map((c) => {
    const doc = inspectComponentDocument(c.data);
    if (doc.issues.length > 0) throw new KilnError('Internal', `The managed component ${c.name} ${c.version} has an invalid document: ${doc.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    return { component: c, doc };
  });
  for (const region of regions) {
    for (const { component: c, doc } of documents) {
      const data: ComponentData = {
        name: c.name,
        description: c.description,
        type: doc.type,
        platform: c.platform,
        supportedOsVersions: [...c.supportedOsVersions],
        parameters: doc.parameters,
        data: c.data,
        dateCreated: now.toISOString(),
      };
      await ensureManagedRecord(store, { region, type: TYPE, name: c.name, version: c.version, data }, {
        refresh: (stored) =>
          stored.data.data !== c.data || stored.data.description !== c.description
            ? { description: c.description, data: c.data, type: doc.type, parameters: doc.parameters, supportedOsVersions: data.supportedOsVersions }
            : undefined,
      });
    }
  }
}
