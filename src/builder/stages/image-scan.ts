/**
 * Scanning an image: its recorded inventory (./image-inventory.ts) matched against the vulnerability feeds'
 * advisories, the findings kept on the image record (`data.scanFindings`, AWS's ImageScanFinding shape with ISO
 * timestamps) and `data.scanState` set as AWS reports it. A rescan keeps each finding's firstObservedAt. Findings
 * live on the image record, read by walking the caller's images; a findings table is the next step at scale.
 */
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../../domain/errors.js';
import { findingsOf, type StoredFinding } from '../../domain/scan-findings.js';
import { inventoryEcosystem, type AdvisoryIndex } from '../../domain/vulnerability-advisories.js';
import type { ResourceRecord, ResourceStore } from '../../store/store.js';
import { SCAN_FINDINGS_REASON_PREFIX, type ScanFindingsMark } from '../../store/roles/event-log.js';
import type { WorkflowRun } from '../records/execution-records.js';
import { imageInventory } from './image-inventory.js';
import { patchImage } from './image-record.js';
import { isStepFailed, runStep } from './step-runner.js';

type Obj = Record<string, unknown>;

/** Where advisories come from (vulnerabilities/vulnerability-database.ts). */
export interface VulnerabilitySource {
  /** False when no feed is configured: scans then say so instead of reporting a clean image. */
  readonly configured: boolean;
  /** The loaded advisories (waiting for a load under way). */
  index(): Promise<AdvisoryIndex | undefined>;
  /** The feeds that have never loaded. */
  unloaded(): string[];
}

/** AWS's ImageScanStatus values. */
export type ScanStatus = 'PENDING' | 'SCANNING' | 'COLLECTING' | 'COMPLETED' | 'ABANDONED' | 'FAILED' | 'TIMED_OUT';

/** Whether the image's imageScanningConfiguration turns scanning on. */
export function scanningEnabled(image: ResourceRecord): boolean {
  return ((image.data.imageScanningConfiguration ?? {}) as Obj).imageScanningEnabled === true;
}

/** The findings stored on an image (none before its first scan). */
export function storedFindings(image: ResourceRecord): StoredFinding[] {
  return Array.isArray(image.data.scanFindings) ? (image.data.scanFindings as StoredFinding[]) : [];
}

/** Records a scan state without findings (a scan that could not run, or one under way). */
export function setScanState(store: ResourceStore, image: ResourceRecord, status: ScanStatus, reason: string): Promise<ResourceRecord> {
  return patchImage(store, image.arn, { scanState: { status, reason } });
}

/** What one scan found: the image as stored after it, its findings, and the vulnerability ids that are new to it. */
export interface ScanResult {
  image: ResourceRecord;
  findings: StoredFinding[];
  added: string[];
}

/**
 * Scans the image with `index` (or the source's current one) and stores the result. Without a feed, an
 * inventory, or an operating system a feed covers, the scan is ABANDONED with that reason and no findings are
 * claimed. Throws only when the store does.
 */
export async function scanImage(store: ResourceStore, image: ResourceRecord, source: VulnerabilitySource | undefined, now = new Date(), index?: AdvisoryIndex): Promise<ScanResult> {
  const abandon = async (reason: string): Promise<ScanResult> => ({ image: await setScanState(store, image, 'ABANDONED', reason), findings: [], added: [] });
  if (!source?.configured) return abandon('no vulnerability feed is configured (vulnerabilityFeeds in the server configuration): the image was not scanned');
  const inventory = imageInventory(image);
  if (!inventory) return abandon('Kiln recorded no package inventory for this image: it cannot be scanned');
  if (!inventoryEcosystem(inventory)) return abandon(`no vulnerability feed format covers ${inventory.os?.prettyName ?? 'an image without /etc/os-release'}: Kiln matches Debian packages`);
  let advisories: AdvisoryIndex | undefined;
  try {
    advisories = index ?? (await source.index());
  } catch (err) {
    return { image: await setScanState(store, image, 'FAILED', `the vulnerability feeds could not be loaded: ${errorMessage(err)}`), findings: [], added: [] };
  }
  if (!advisories) return abandon('the vulnerability feeds are not loaded');
  // A feed that never loaded would make the image look cleaner than it is: with none loaded there is no scan.
  const unloaded = source.unloaded();
  if (unloaded.length > 0 && advisories.size === 0) {
    return { image: await setScanState(store, image, 'FAILED', `no vulnerability feed could be loaded (${unloaded.join('; ')}): the image was not scanned`), findings: [], added: [] };
  }
  const previous = storedFindings(image);
  const sourcePipelineArn = typeof image.data.sourcePipelineArn === 'string' && image.data.sourcePipelineArn !== '' ? image.data.sourcePipelineArn : undefined;
  const findings = findingsOf(advisories.match(inventory), { accountId: image.accountId, imageArn: image.arn, ...(sourcePipelineArn ? { pipelineArn: sourcePipelineArn } : {}), now: now.toISOString() }, previous);
  const known = new Set(previous.map((f) => f.packageVulnerabilityDetails.vulnerabilityId));
  const added = findings.map((f) => f.packageVulnerabilityDetails.vulnerabilityId).filter((id) => !known.has(id));
  const missing = unloaded.length > 0 ? `; not loaded: ${unloaded.join('; ')}` : '';
  const reason = `${findings.length} finding${findings.length === 1 ? '' : 's'} from ${advisories.size} advisories, ${now.toISOString()}${missing}`;
  const stored = await patchImage(store, image.arn, { scanFindings: findings, scanState: { status: 'COMPLETED', reason } });
  return { image: stored, findings, added };
}

/**
 * The test workflow's CollectImageScanFindings step (onFailure Continue, as AWS's managed test workflows run
 * it): scans the image and records the step; a failed scan leaves scanState FAILED and the build going on.
 */
export async function runScanStep(wf: WorkflowRun, store: ResourceStore, source: VulnerabilitySource | undefined, image: ResourceRecord, signal: AbortSignal): Promise<void> {
  try {
    await runStep(wf, { name: 'CollectImageScanFindings', action: 'CollectImageScanFindings', onFailure: 'Continue' }, signal, (step) => collectFindings(store, source, image, step));
  } catch (err) {
    if (!isStepFailed(err) || err.cancelled) throw err;
    await setScanState(store, image, signal.aborted ? 'TIMED_OUT' : 'FAILED', err.message);
  }
}

/** The body of a CollectImageScanFindings step: scan, say in the step's log and message what was found. */
export async function collectFindings(store: ResourceStore, source: VulnerabilitySource | undefined, image: ResourceRecord, step: { log(text: string): void; setMessage?(text: string): void }): Promise<Obj> {
  await setScanState(store, image, 'SCANNING', 'matching the image inventory against the vulnerability feeds');
  const result = await scanImage(store, image, source);
  const state = result.image.data.scanState as { status: string; reason: string };
  const message = `${state.status}: ${state.reason}`;
  step.log(`${message}\n`);
  for (const f of result.findings) step.log(`${f.severity} ${f.title} (fix: ${f.fixAvailable})\n`);
  step.setMessage?.(message);
  return { status: 'Success', scanStatus: state.status, findings: result.findings.length };
}

/**
 * Continuous scanning: after a feed reload, every AVAILABLE image with scanning enabled and an inventory is
 * scanned again with the new advisories (no rebuild). An image that gains vulnerabilities gets a
 * `scanFindingsMark`, which the store logs as an event (/kiln/events, notifications). Answers how many images
 * were rescanned and which gained findings; one image's failure is logged and does not stop the others.
 */
export async function rescanAvailableImages(store: ResourceStore, source: VulnerabilitySource, index: AdvisoryIndex, signal: AbortSignal, now = new Date()): Promise<{ rescanned: number; changed: string[] }> {
  const images = (await store.listResourcesOfType('image')).filter((r) => (r.data.state as { status?: string } | undefined)?.status === 'AVAILABLE' && scanningEnabled(r) && imageInventory(r));
  let rescanned = 0;
  const changed: string[] = [];
  for (const image of images) {
    signal.throwIfAborted();
    try {
      const result = await scanImage(store, image, source, now, index);
      rescanned++;
      if (result.added.length === 0) continue;
      const mark: ScanFindingsMark = { scanId: randomUUID(), message: `${SCAN_FINDINGS_REASON_PREFIX}${result.added.join(', ')}` };
      await patchImage(store, image.arn, { scanFindingsMark: mark });
      changed.push(image.arn);
    } catch (err) {
      process.stderr.write(`kiln: rescanning ${image.arn} after a vulnerability feed update failed: ${errorMessage(err)}\n`);
    }
  }
  return { rescanned, changed };
}
