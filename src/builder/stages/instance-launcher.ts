/**
 * `kiln instances launch`: boots a machine image as a VM for a person to look at, the local equivalent of
 * launching an EC2 instance from an AMI. The VM is held with the kept instances (listed, entered and released
 * the same way) and boots from its image without writing to it.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { resolveInstanceType } from '../../domain/instance-types.js';
import { launchVm } from '../../drivers/vm/vm-launch.js';
import type { BuildServices } from '../container/container-build.js';
import type { KeptInstanceInfo } from './kept-instances.js';
import { parentDisk } from '../machine/machine-instances.js';
import { resolveMachineRef } from '../machine/machine-parent.js';

export interface LaunchRequest {
  accountId: string;
  region: string;
  /** A machine image id or an AMI image ARN (wildcards allowed). */
  image: string;
  /** A vm.* type (default vm.small). */
  instanceType?: string;
  /** Outbound NAT (default) or none. */
  network?: 'nat' | 'none';
}

/** Boots `request.image` and returns the instance as `kiln instances ls` lists it. */
export async function launchMachineInstance(services: BuildServices, request: LaunchRequest, signal: AbortSignal): Promise<KeptInstanceInfo> {
  const machine = services.machine;
  if (!machine) throw new KilnError('Unavailable', 'this Kiln has no machine-image support configured');
  const typeName = request.instanceType ?? 'vm.small';
  const type = resolveInstanceType(typeName);
  if (!type || type.kiln.driver !== 'vm') throw new KilnError('InvalidArgument', `instanceType: ${typeName} is not a vm.* instance type (vm.small, vm.medium, vm.large)`);
  const name = `launch-${randomBytes(4).toString('hex')}`;
  const who = { accountId: request.accountId, region: request.region, arn: name };
  const log = () => undefined;
  const parent = await resolveMachineRef(services.store, who, request.image, machine.managedRootfs, signal, log, 'image');
  const disk = await parentDisk(services, machine, parent, name, signal, log);
  const scratchDir = path.join(machine.workRoot, name);
  // Held while QEMU starts; from then on its open file keeps the disk out of the cache's collections.
  const lease = await machine.disks.acquire(disk.digest, signal);
  const vm = await launchVm({
    name,
    disk: lease.path,
    diskFormat: 'raw',
    firmware: 'uefi',
    accel: machine.accel.accel,
    vcpus: type.kiln.vcpus,
    memoryMiB: type.kiln.memoryMiB,
    network: request.network ?? 'nat',
    scratchDir,
    bootTimeoutMs: machine.bootTimeoutMs,
    signal,
  }).finally(() => lease.release());
  services.kept.add({ instance: vm, imageArn: parent.plan.resolved, stage: 'LAUNCHED', accountId: request.accountId, consoleLog: path.join(scratchDir, 'serial.log') });
  return services.kept.get(vm.id)!;
}
