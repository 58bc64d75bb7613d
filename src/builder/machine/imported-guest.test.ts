import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importedBootSeed } from './imported-guest.js';
import type { MachineParent } from './machine-parent.js';
import type { ResourceRecord } from '../../store/store.js';

const parentWith = (guest: unknown): MachineParent => ({
  plan: { requested: 'ami-0123456789abcdef0', resolved: 'ami-0123456789abcdef0', manifestDigest: '', source: 'image' },
  image: { data: { imageSource: 'IMPORTED', ...(guest === undefined ? {} : { guest }) } } as unknown as ResourceRecord,
  rootfs: undefined,
  disk: undefined,
});

test('importedBootSeed: refused with neither way in, no seed with the agent alone, the seed otherwise', () => {
  const log: string[] = [];
  const say = (text: string) => log.push(text);
  assert.throws(
    () => importedBootSeed(parentWith({ cloudInit: false, agent: false }), 'ami-0123456789abcdef0', say),
    (err: Error & { kind?: string }) => err.kind === 'InvalidArgument' && /^parentImage ami-0123456789abcdef0: the imported disk has neither cloud-init nor the QEMU guest agent/.test(err.message) && /install cloud-init or qemu-guest-agent/i.test(err.message),
  );
  assert.equal(importedBootSeed(parentWith({ cloudInit: false, agent: true }), 'x', say), false);
  assert.equal(importedBootSeed(parentWith({ cloudInit: true, agent: true }), 'x', say), true);
  assert.equal(importedBootSeed(parentWith({ cloudInit: true, agent: false }), 'x', say), true);
  // Unknown (an unreadable root, or an import from before disks were inspected): as before, with the seed.
  assert.equal(importedBootSeed(parentWith('unknown'), 'x', say), true);
  assert.equal(importedBootSeed(parentWith(undefined), 'x', say), true);
  assert.match(log[0]!, /without a seed/);
});
