import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { kernelCommandLine } from './kernel-cmdline.js';

const UUID = '6B1E7B5E-3B9C-4A47-9C1F-1F0C2A5D8E01';

test('root by lowercase PARTUUID, rw, serial console, then the extra arguments with whitespace collapsed', () => {
  assert.equal(kernelCommandLine(UUID), 'root=PARTUUID=6b1e7b5e-3b9c-4a47-9c1f-1f0c2a5d8e01 rw console=ttyS0');
  assert.equal(kernelCommandLine(UUID, '  quiet\tnet.ifnames=0  x=$y;z '), 'root=PARTUUID=6b1e7b5e-3b9c-4a47-9c1f-1f0c2a5d8e01 rw console=ttyS0 quiet net.ifnames=0 x=$y;z');
});

test('arguments the two loaders would pass differently are refused, naming the field', () => {
  for (const extra of ['a="b c"', "a='b'", 'a=\\b', 'a\nb']) {
    assert.throws(() => kernelCommandLine(UUID, extra), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'extraKernelArgs', extra);
  }
  assert.throws(() => kernelCommandLine('6b1e7b5e', 'quiet'), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'rootPartUuid');
});
