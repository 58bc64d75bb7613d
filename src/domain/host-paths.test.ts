import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addHostRoot, redactHostPaths } from './host-paths.js';

test('declared host directories are replaced by their label; instance paths and look-alikes stay', () => {
  addHostRoot('/srv/kiln-test-data/', '<data-dir>');
  addHostRoot('/srv/kiln-test-data/work', '<work>');
  addHostRoot('/tmp/kiln-test-', '<tmp>/kiln-test-', { prefix: true });
  assert.equal(
    redactHostPaths("ENOENT: no such file or directory, open '/srv/kiln-test-data/blobs/sha256/abc'"),
    "ENOENT: no such file or directory, open '<data-dir>/blobs/sha256/abc'",
  );
  assert.equal(redactHostPaths('EXDEV: rename /srv/kiln-test-data/work/a -> /srv/kiln-test-data'), 'EXDEV: rename <work>/a -> <data-dir>');
  assert.equal(redactHostPaths('cannot unpack into /tmp/kiln-test-rootfs-x1/etc: full'), 'cannot unpack into <tmp>/kiln-test-rootfs-x1/etc: full');
  assert.equal(redactHostPaths('(/srv/kiln-test-data), "/srv/kiln-test-data/x"'), '(<data-dir>), "<data-dir>/x"');
  const untouched = "open '/etc/apt/sources.list' failed; /srv/kiln-test-data2/x; /tmp/other";
  assert.equal(redactHostPaths(untouched), untouched);
});
