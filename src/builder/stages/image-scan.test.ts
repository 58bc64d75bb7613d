import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdvisoryIndex, osvAdvisories } from '../../domain/vulnerability-advisories.js';
import type { ResourceRecord, ResourceStore } from '../../store/store.js';
import { rescanAvailableImages, scanImage, type VulnerabilitySource } from './image-scan.js';

const ARN = 'arn:aws:imagebuilder:local:111122223333:image/app/1.0.0/1';
const inventory = { os: { id: 'debian', versionId: '12', prettyName: 'Debian 12' }, packages: [{ manager: 'dpkg', name: 'zlib1g', version: '1:1.2.13.dfsg-1', architecture: 'amd64', source: 'zlib', sourceVersion: '1:1.2.13.dfsg-1' }] };

/** One image record behind the two calls scanning makes of a store. */
function storeWith(data: Record<string, unknown>): { store: ResourceStore; current: () => ResourceRecord } {
  let record = { arn: ARN, accountId: '111122223333', region: 'local', type: 'image', name: 'app', version: '1.0.0', build: 1, data } as unknown as ResourceRecord;
  const store = {
    updateResource: (_arn: string, fn: (r: ResourceRecord) => Record<string, unknown>) => {
      record = { ...record, data: fn(record) };
      return Promise.resolve(record);
    },
    listResourcesOfType: () => Promise.resolve([record]),
  } as unknown as ResourceStore;
  return { store, current: () => record };
}

const advisory = (id: string) => osvAdvisories({ id, affected: [{ package: { ecosystem: 'Debian:12', name: 'zlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:1.3-1' }] }] }] });
const source = (index: AdvisoryIndex | undefined, unloaded: string[] = []): VulnerabilitySource => ({ configured: true, index: () => Promise.resolve(index), unloaded: () => unloaded });

test('a scan without feeds, inventory or a loaded feed says so in scanState and claims no findings', async () => {
  const noFeed = storeWith({ state: { status: 'TESTING' }, inventory });
  await scanImage(noFeed.store, noFeed.current(), undefined);
  assert.equal((noFeed.current().data.scanState as { status: string }).status, 'ABANDONED');
  assert.match((noFeed.current().data.scanState as { reason: string }).reason, /no vulnerability feed is configured/);

  const noInventory = storeWith({ state: { status: 'TESTING' } });
  await scanImage(noInventory.store, noInventory.current(), source(new AdvisoryIndex()));
  assert.match((noInventory.current().data.scanState as { reason: string }).reason, /no package inventory/);

  const unloaded = storeWith({ state: { status: 'TESTING' }, inventory });
  await scanImage(unloaded.store, unloaded.current(), source(new AdvisoryIndex(), ['vulnerabilityFeeds[0] (osv)']));
  assert.deepEqual(unloaded.current().data.scanState, { status: 'FAILED', reason: 'no vulnerability feed could be loaded (vulnerabilityFeeds[0] (osv)): the image was not scanned' });
  assert.equal(unloaded.current().data.scanFindings, undefined);
});

test('a rescan of an AVAILABLE image marks only vulnerabilities new to it, keeping firstObservedAt', async () => {
  const { store, current } = storeWith({ state: { status: 'AVAILABLE' }, inventory, imageScanningConfiguration: { imageScanningEnabled: true } });
  const first = new AdvisoryIndex(advisory('DSA-1'));
  await scanImage(store, current(), source(first), new Date('2026-12-01T00:00:00Z'));
  assert.equal(current().data.scanFindingsMark, undefined, 'the scan in the build logs no findings event');
  const second = new AdvisoryIndex([...advisory('DSA-1'), ...advisory('DSA-2')]);
  const result = await rescanAvailableImages(store, source(second), second, new AbortController().signal, new Date('2026-12-02T00:00:00Z'));
  assert.deepEqual(result, { rescanned: 1, changed: [ARN] });
  assert.match((current().data.scanFindingsMark as { message: string }).message, /^new image scan findings: DSA-2$/);
  const findings = current().data.scanFindings as { firstObservedAt: string; packageVulnerabilityDetails: { vulnerabilityId: string } }[];
  assert.deepEqual(findings.map((f) => [f.packageVulnerabilityDetails.vulnerabilityId, f.firstObservedAt]), [['DSA-1', '2026-12-01T00:00:00.000Z'], ['DSA-2', '2026-12-02T00:00:00.000Z']]);
  const mark = current().data.scanFindingsMark;
  assert.deepEqual(await rescanAvailableImages(store, source(second), second, new AbortController().signal), { rescanned: 1, changed: [] });
  assert.deepEqual(current().data.scanFindingsMark, mark, 'nothing new: no new mark');
});
