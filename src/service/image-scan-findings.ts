/**
 * ListImageScanFindings and ListImageScanFindingAggregations over the findings scans keep on the caller's
 * images (builder/stages/image-scan.ts). Both walk the caller's images in the region; a findings table is the
 * next step when accounts hold many scanned images.
 */
import { KilnError } from '../domain/errors.js';
import type { JsonObject } from '../domain/json.js';
import { pageOfRequest } from '../domain/pagination.js';
import { severityCounts, type StoredFinding } from '../domain/scan-findings.js';
import { applyFilters } from '../resources/filters.js';
import type { Store } from '../store/store.js';
import { IMAGE_TYPE } from './image-family.js';
import type { OperationHandler, RequestContext } from './types.js';

const FINDING_FILTERS = ['imageBuildVersionArn', 'imagePipelineArn', 'vulnerabilityId', 'severity'] as const;
const AGGREGATION_FILTERS = ['accountId', 'imageBuildVersionArn', 'imagePipelineArn', 'vulnerabilityId'] as const;
const SEVERITY_ORDER = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNTRIAGED'];

/** Every finding on the caller's images in the region, most severe first, then by image and vulnerability. */
async function callerFindings(store: Store, ctx: RequestContext): Promise<StoredFinding[]> {
  const images = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: IMAGE_TYPE });
  const all = images.flatMap((r) => (Array.isArray(r.data.scanFindings) ? (r.data.scanFindings as StoredFinding[]) : []));
  const key = (f: StoredFinding) => `${SEVERITY_ORDER.indexOf(f.severity)}\u0000${f.imageBuildVersionArn}\u0000${f.packageVulnerabilityDetails.vulnerabilityId}`;
  return all.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function field(f: StoredFinding, name: string): string | undefined {
  if (name === 'vulnerabilityId') return f.packageVulnerabilityDetails.vulnerabilityId;
  if (name === 'severity') return f.severity;
  if (name === 'accountId') return f.awsAccountId;
  if (name === 'imageBuildVersionArn') return f.imageBuildVersionArn;
  if (name === 'imagePipelineArn') return f.imagePipelineArn;
  return undefined;
}

const date = (iso: string | undefined): Date | undefined => (iso ? new Date(iso) : undefined);

/** A stored finding on the wire: its timestamp members as Dates (epoch seconds in restJson). */
function toWire(f: StoredFinding): JsonObject {
  const details = f.packageVulnerabilityDetails;
  return {
    ...f,
    firstObservedAt: date(f.firstObservedAt),
    updatedAt: date(f.updatedAt),
    packageVulnerabilityDetails: { ...details, vendorCreatedAt: date(details.vendorCreatedAt), vendorUpdatedAt: date(details.vendorUpdatedAt) },
  } as unknown as JsonObject;
}

/** Groups findings by a key, in first-seen order. */
function groupBy(findings: readonly StoredFinding[], key: (f: StoredFinding) => string | undefined): Map<string, StoredFinding[]> {
  const out = new Map<string, StoredFinding[]>();
  for (const f of findings) {
    const k = key(f);
    if (k !== undefined) out.set(k, [...(out.get(k) ?? []), f]);
  }
  return out;
}

/**
 * The aggregations, drilling down one level per filter (AWS documents the filters, not the levels; this order is
 * Kiln's reading): no filter → the account; accountId → its pipelines; imagePipelineArn → the pipeline's images;
 * imageBuildVersionArn → the image's vulnerabilities; vulnerabilityId → the images it affects.
 */
function aggregate(findings: readonly StoredFinding[], filterName: string | undefined, ctx: RequestContext): { aggregationType: string; responses: JsonObject[] } {
  if (filterName === undefined) {
    return { aggregationType: 'accountId', responses: [{ accountAggregation: { accountId: ctx.accountId, severityCounts: severityCounts(findings) } }] };
  }
  if (filterName === 'accountId') {
    const byPipeline = groupBy(findings, (f) => f.imagePipelineArn);
    return { aggregationType: 'imagePipelineArn', responses: [...byPipeline].map(([imagePipelineArn, fs]) => ({ imagePipelineAggregation: { imagePipelineArn, severityCounts: severityCounts(fs) } })) };
  }
  if (filterName === 'imageBuildVersionArn') {
    const byId = groupBy(findings, (f) => f.packageVulnerabilityDetails.vulnerabilityId);
    return { aggregationType: 'vulnerabilityId', responses: [...byId].map(([vulnerabilityId, fs]) => ({ vulnerabilityIdAggregation: { vulnerabilityId, severityCounts: severityCounts(fs) } })) };
  }
  const byImage = groupBy(findings, (f) => f.imageBuildVersionArn);
  return { aggregationType: 'imageBuildVersionArn', responses: [...byImage].map(([imageBuildVersionArn, fs]) => ({ imageAggregation: { imageBuildVersionArn, severityCounts: severityCounts(fs) } })) };
}

export function imageScanFindingHandlers(store: Store): Record<string, OperationHandler> {
  return {
    ListImageScanFindings: async (input, ctx) => {
      const found = applyFilters(await callerFindings(store, ctx), input.filters, FINDING_FILTERS, 'ListImageScanFindings', (f, name, values) => values.has(field(f, name) ?? ''));
      const { items, nextToken } = pageOfRequest(found, input, ['ListImageScanFindings', input.filters ?? null]);
      return { requestId: ctx.requestId, findings: items.map(toWire), ...(nextToken ? { nextToken } : {}) };
    },
    ListImageScanFindingAggregations: async (input, ctx) => {
      const filter = (input.filter ?? undefined) as { name?: string; values?: string[] } | undefined;
      if (filter && !(AGGREGATION_FILTERS as readonly string[]).includes(filter.name ?? '')) {
        throw new KilnError('InvalidArgument', `filter.name '${filter.name ?? ''}' is not a filter of ListImageScanFindingAggregations; use one of ${AGGREGATION_FILTERS.join(', ')}.`, [{ path: 'filter.name', message: `must be one of ${AGGREGATION_FILTERS.join(', ')}` }]);
      }
      const values = new Set(filter?.values ?? []);
      const findings = (await callerFindings(store, ctx)).filter((f) => !filter || values.has(field(f, filter.name!) ?? ''));
      const { aggregationType, responses } = aggregate(findings, filter?.name, ctx);
      const { items, nextToken } = pageOfRequest(responses, input, ['ListImageScanFindingAggregations', filter ?? null]);
      return { requestId: ctx.requestId, aggregationType, responses: items, ...(nextToken ? { nextToken } : {}) };
    },
  };
}
