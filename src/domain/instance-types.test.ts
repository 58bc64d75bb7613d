import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTANCE_TYPES, ec2Size, kilnInstanceType, nearestKilnType, resolveInstanceType } from './instance-types.js';

test('the catalogue: six types, two drivers, growing sizes', () => {
  assert.deepEqual(INSTANCE_TYPES.map((t) => t.name), ['ns.small', 'ns.medium', 'ns.large', 'vm.small', 'vm.medium', 'vm.large']);
  for (const driver of ['ns', 'vm'] as const) {
    const types = INSTANCE_TYPES.filter((t) => t.driver === driver);
    for (let i = 1; i < types.length; i++) {
      assert.ok(types[i]!.vcpus >= types[i - 1]!.vcpus && types[i]!.memoryMiB > types[i - 1]!.memoryMiB, types[i]!.name);
    }
  }
  assert.equal(kilnInstanceType('vm.medium')?.driver, 'vm');
  assert.equal(kilnInstanceType('vm.huge'), undefined);
});

test('EC2 sizes are estimated from family class and size word', () => {
  const cases: [string, { vcpus: number; memoryMiB: number } | undefined][] = [
    ['t3.micro', { vcpus: 2, memoryMiB: 1024 }],
    ['t4g.small', { vcpus: 2, memoryMiB: 2048 }],
    ['t3.2xlarge', { vcpus: 8, memoryMiB: 32768 }],
    ['m5.large', { vcpus: 2, memoryMiB: 8192 }],
    ['m6g.medium', { vcpus: 1, memoryMiB: 4096 }],
    ['c5.xlarge', { vcpus: 4, memoryMiB: 8192 }],
    ['r6i.4xlarge', { vcpus: 16, memoryMiB: 131072 }],
    ['c7gn.16xlarge', { vcpus: 64, memoryMiB: 131072 }],
    ['mac1.metal', { vcpus: 96, memoryMiB: 393216 }],
    ['u-6tb1.metal', { vcpus: 96, memoryMiB: 1572864 }],
    ['banana.large', undefined],
    ['m5', undefined],
    ['m5.huge', undefined],
    ['M5.large', undefined],
    ['', undefined],
  ];
  for (const [name, size] of cases) assert.deepEqual(ec2Size(name), size, name);
});

test('names resolve to a Kiln type: catalogue names as is, EC2 names to the smallest vm type that fits', () => {
  const cases: [string, string | undefined, 'kiln' | 'ec2' | undefined][] = [
    ['ns.small', 'ns.small', 'kiln'],
    ['vm.large', 'vm.large', 'kiln'],
    ['t3.nano', 'vm.medium', 'ec2'],
    ['t3.micro', 'vm.medium', 'ec2'],
    ['a1.medium', 'vm.small', 'ec2'],
    ['m6g.medium', 'vm.medium', 'ec2'],
    ['m5.large', 'vm.large', 'ec2'],
    ['c5.xlarge', 'vm.large', 'ec2'],
    ['m6i.24xlarge', 'vm.large', 'ec2'],
    ['ns.huge', undefined, undefined],
    ['t3', undefined, undefined],
  ];
  for (const [name, kiln, source] of cases) {
    const r = resolveInstanceType(name);
    assert.equal(r?.kiln.name, kiln, name);
    assert.equal(r?.source, source, name);
    if (r) assert.equal(r.requested, name);
  }
  assert.equal(nearestKilnType({ vcpus: 1, memoryMiB: 1024 }, 'ns').name, 'ns.small');
  assert.equal(nearestKilnType({ vcpus: 64, memoryMiB: 1024 }, 'ns').name, 'ns.large');
});
