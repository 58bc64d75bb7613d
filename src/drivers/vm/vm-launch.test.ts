import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootFailureIn } from './vm-launch.js';

test('boot failures are recognised on the console, so a broken disk fails at once instead of at the timeout', () => {
  assert.equal(bootFailureIn('[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n'), 'the kernel panicked');
  assert.equal(bootFailureIn('Gave up waiting for root file system device.  Common problems:\n'), 'the initramfs found no root file system');
  assert.equal(bootFailureIn('ALERT!  PARTUUID=x does not exist.  Dropping to a shell!\n(initramfs) '), 'the boot stopped in the initramfs emergency shell');
  assert.equal(bootFailureIn('error: file `/vmlinuz` not found.\ngrub> '), 'GRUB stopped at its prompt');
  assert.equal(bootFailureIn('[  OK  ] Reached target Multi-User System.\nDebian GNU/Linux 12 kiln ttyS0\n'), undefined);
});
