import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { convertDisk, QEMU_FORMAT_NAME, type DiskFormat } from './convert.js';

function hasQemuImg(): boolean {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('convertDisk', { skip: hasQemuImg() ? false : 'needs qemu-img (qemu-utils)' }, () => {
  let dir = '';
  let raw = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-convert-'));
    raw = path.join(dir, 'disk.raw');
    // Sparse with data at both ends, so a conversion that drops or shifts blocks shows in the compare.
    const fd = fs.openSync(raw, 'w');
    fs.writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 0);
    fs.writeSync(fd, Buffer.from('kiln-end'), 0, 8, 16 * 1024 * 1024 - 8);
    fs.closeSync(fd);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const format of ['qcow2', 'raw', 'vmdk', 'vhd'] as DiskFormat[]) {
    test(`${format}: qemu-img info names the format and the content is the same`, async () => {
      const out = path.join(dir, `disk.${format}`);
      const result = await convertDisk(raw, out, format);
      assert.equal(result.path, out);
      // A fixed VHD has only a footer, which qemu-img does not probe for; its format must be named.
      const forced = format === 'vhd' ? ['-f', 'vpc'] : [];
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', ...forced, out], { encoding: 'utf8' })) as {
        format: string;
        'virtual-size': number;
        'format-specific'?: { data?: { 'create-type'?: string } };
      };
      assert.equal(info.format, QEMU_FORMAT_NAME[format]);
      assert.ok(info['virtual-size'] >= 16 * 1024 * 1024);
      if (format === 'vmdk') assert.equal(info['format-specific']?.data?.['create-type'], 'streamOptimized');
      if (format === 'vhd') {
        const footer = Buffer.alloc(8);
        const fd = fs.openSync(out, 'r');
        fs.readSync(fd, footer, 0, 8, fs.fstatSync(fd).size - 512);
        fs.closeSync(fd);
        assert.equal(footer.toString(), 'conectix');
      }
      if (format === 'qcow2') execFileSync('qemu-img', ['check', '-q', out]);
      // compare exits 0 when the guest-visible content matches (the VHD may be rounded up with zeros).
      execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', QEMU_FORMAT_NAME[format], raw, out]);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('partial')), []);
    });
  }

  test('an unknown format and a missing source are refused, naming the field', async () => {
    await assert.rejects(convertDisk(raw, path.join(dir, 'x'), 'iso' as DiskFormat), (e) => isKilnError(e, 'InvalidArgument') && /format/.test(e.message));
    await assert.rejects(convertDisk(path.join(dir, 'nope'), path.join(dir, 'x'), 'qcow2'), (e) => isKilnError(e, 'NotFound') && /raw/.test(e.message));
  });

  test('abort kills qemu-img and leaves no partial file', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(convertDisk(raw, path.join(dir, 'aborted.qcow2'), 'qcow2', controller.signal), (e) => isKilnError(e, 'Cancelled'));
    assert.equal(fs.existsSync(path.join(dir, 'aborted.qcow2')), false);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('partial')), []);
  });
});
