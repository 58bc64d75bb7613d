import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAccel, detectAccel, type AccelFacts } from './accel.js';

const good: AccelFacts = { kvmDevice: { ok: true }, kvmPvmLoaded: false, cpuFlags: new Set(['fpu', 'vmx', 'sse2']) };

test('KVM when the device opens, the module is not PVM and the CPU has vmx or svm', () => {
  assert.equal(decideAccel(good).accel, 'kvm');
  assert.equal(decideAccel({ ...good, cpuFlags: new Set(['svm']) }).accel, 'kvm');
});

test('TCG with the reason when any fact is missing', () => {
  const noDev = decideAccel({ ...good, kvmDevice: { ok: false, error: 'ENOENT: no such file' } });
  assert.deepEqual([noDev.accel, /ENOENT/.test(noDev.reason)], ['tcg', true]);
  const pvm = decideAccel({ ...good, kvmPvmLoaded: true });
  assert.deepEqual([pvm.accel, /kvm_pvm/.test(pvm.reason)], ['tcg', true]);
  const noVirt = decideAccel({ ...good, cpuFlags: new Set(['fpu', 'sse2']) });
  assert.deepEqual([noVirt.accel, /vmx or svm/.test(noVirt.reason)], ['tcg', true]);
});

test('detectAccel answers on this host without throwing', () => {
  const choice = detectAccel();
  assert.ok(choice.accel === 'kvm' || choice.accel === 'tcg');
  assert.ok(choice.reason.length > 0);
});
