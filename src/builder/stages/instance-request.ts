/**
 * What instance a build asks for, read from its image's infrastructure configuration and recipe: the instance
 * type (and so the driver, CPUs and memory), the network, and the root volume. Shared by the plan compiler and
 * both kinds of build.
 */
import { KilnError } from '../../domain/errors.js';
import { resolveInstanceType } from '../../domain/instance-types.js';
import type { InstanceResources, NetworkMode } from '../../drivers/driver.js';
import type { ResourceRecord } from '../../store/store.js';
import { rootVolumeGiB } from './image-record.js';

import type { JsonObject } from '../../domain/json.js';

/** The instance an infrastructure configuration asks for: its first instance type (ns.medium when none), and its network. */
export function requestedInstance(image: ResourceRecord): { driver: 'ns' | 'vm'; vcpus: number; memoryMiB: number; network: NetworkMode; type: string; requested: string } {
  const infra = (image.data.infrastructureConfiguration ?? {}) as JsonObject;
  const types = Array.isArray(infra.instanceTypes) ? (infra.instanceTypes as string[]) : [];
  const requested = types[0] ?? 'ns.medium';
  const type = resolveInstanceType(requested);
  if (!type) throw new KilnError('InvalidArgument', `instanceTypes[0] ${requested} is not an instance type Kiln knows`);
  // Kiln's network choice: a subnet named "none" is an instance without a network, as an isolated subnet is.
  const network: NetworkMode = infra.subnetId === 'none' ? 'none' : 'nat';
  return { driver: type.kiln.driver === 'vm' ? 'vm' : 'ns', vcpus: type.kiln.vcpus, memoryMiB: type.kiln.memoryMiB, network, type: type.kiln.name, requested };
}

/** What an ns instance of this build gets: the type's CPUs and memory, and the recipe's root volume. */
export function instanceResources(image: ResourceRecord, wanted: ReturnType<typeof requestedInstance>): InstanceResources {
  const volume = rootVolumeGiB(image);
  return { vcpus: wanted.vcpus, memoryMiB: wanted.memoryMiB, instanceType: wanted.type, ...(volume === undefined ? {} : { rootVolumeGiB: volume }) };
}

/** The instance a container build asks for: ns types only (InvalidArgument naming instanceTypes[0] otherwise). */
export function containerInstance(image: ResourceRecord): ReturnType<typeof requestedInstance> {
  const wanted = requestedInstance(image);
  if (wanted.driver !== 'ns') {
    throw new KilnError('InvalidArgument', `instanceTypes[0] ${wanted.requested} needs the ${wanted.driver} driver, which does not build container images; use an ns.* type (ns.small, ns.medium, ns.large)`);
  }
  return wanted;
}
