/**
 * Kiln's instance types: what an infrastructure configuration's `instanceTypes` may name. A Kiln type picks a
 * driver (`ns`: a namespace sandbox on the host; `vm`: a QEMU virtual machine) and the resources it gets.
 * AWS EC2 type names are accepted too, so that definitions written for AWS work unchanged; each maps to the
 * nearest Kiln type and is recorded as written.
 */

/** The InstanceDriver that runs a build instance. */
export type InstanceDriverKind = 'ns' | 'vm';

/** One entry of the catalogue. */
export interface KilnInstanceType {
  name: string;
  driver: InstanceDriverKind;
  vcpus: number;
  memoryMiB: number;
}

/** The catalogue, smallest first within each driver (nearest-type lookups rely on that order). */
export const INSTANCE_TYPES: readonly KilnInstanceType[] = [
  { name: 'ns.small', driver: 'ns', vcpus: 1, memoryMiB: 2048 },
  { name: 'ns.medium', driver: 'ns', vcpus: 2, memoryMiB: 4096 },
  { name: 'ns.large', driver: 'ns', vcpus: 4, memoryMiB: 8192 },
  { name: 'vm.small', driver: 'vm', vcpus: 1, memoryMiB: 2048 },
  { name: 'vm.medium', driver: 'vm', vcpus: 2, memoryMiB: 4096 },
  { name: 'vm.large', driver: 'vm', vcpus: 4, memoryMiB: 8192 },
];

/** How an `instanceTypes` entry was understood. */
export interface ResolvedInstanceType {
  /** The name as the caller wrote it. */
  requested: string;
  /** `kiln` for a catalogue name, `ec2` for an AWS EC2 type name mapped to the nearest Kiln type. */
  source: 'kiln' | 'ec2';
  kiln: KilnInstanceType;
}

/** An EC2 type's size: vCPUs and memory. */
export interface Ec2Size {
  vcpus: number;
  memoryMiB: number;
}

// Families carry a generation digit (t3, m6g, c7gn, u-6tb1, mac2-m2pro); sizes are the fixed words or Nxlarge.
const EC2_RE = /^([a-z]+)(?:-?[a-z0-9]*\d[a-z0-9-]*)\.(nano|micro|small|medium|large|xlarge|(\d{1,3})xlarge|metal(?:-\d+xl)?)$/;

// Burstable families publish their own small sizes (t3: 2 vCPUs from nano to large), so they get a table.
const BURSTABLE: Record<string, Ec2Size> = {
  nano: { vcpus: 2, memoryMiB: 512 },
  micro: { vcpus: 2, memoryMiB: 1024 },
  small: { vcpus: 2, memoryMiB: 2048 },
  medium: { vcpus: 2, memoryMiB: 4096 },
  large: { vcpus: 2, memoryMiB: 8192 },
  xlarge: { vcpus: 4, memoryMiB: 16384 },
};

/** GiB of memory per vCPU by family class: compute 2, general 4, memory-optimised 8 or 16. */
const MEMORY_PER_VCPU_GIB: Record<string, number> = { c: 2, a: 2, m: 4, r: 8, z: 8, x: 16, u: 16 };

/** Bare-metal sizes have no fixed vCPU count in the name; they are larger than anything Kiln offers. */
const METAL_VCPUS = 96;

/** The catalogue entry of a Kiln type name, or undefined. */
export function kilnInstanceType(name: string): KilnInstanceType | undefined {
  return INSTANCE_TYPES.find((t) => t.name === name);
}

/** Estimates the vCPUs and memory of an EC2 type name (`m5.large`); undefined when it does not look like one. */
export function ec2Size(name: string): Ec2Size | undefined {
  const m = EC2_RE.exec(name);
  if (!m) return undefined;
  const cls = m[1]!;
  const size = m[2]!;
  if (cls === 't' && BURSTABLE[size]) return BURSTABLE[size];
  const perVcpu = MEMORY_PER_VCPU_GIB[cls] ?? 4;
  let vcpus: number;
  if (size.startsWith('metal')) vcpus = METAL_VCPUS;
  else if (m[3] !== undefined) vcpus = 4 * Number(m[3]);
  else if (size === 'xlarge') vcpus = 4;
  else if (size === 'large') vcpus = 2;
  else if (size === 'medium') vcpus = 1;
  else return BURSTABLE[size];
  return { vcpus, memoryMiB: vcpus * perVcpu * 1024 };
}

/**
 * The smallest Kiln type of a driver that has at least the given vCPUs and memory, so a build sized for an
 * EC2 type does not run out of memory; the largest of the driver when nothing is big enough.
 */
export function nearestKilnType(size: Ec2Size, driver: InstanceDriverKind): KilnInstanceType {
  const candidates = INSTANCE_TYPES.filter((t) => t.driver === driver);
  return candidates.find((t) => t.vcpus >= size.vcpus && t.memoryMiB >= size.memoryMiB) ?? candidates[candidates.length - 1]!;
}

/**
 * Resolves an `instanceTypes` entry. EC2 names map to a `vm` type: an EC2 instance is a whole machine with its
 * own kernel, which only the VM driver gives. Undefined when the name is neither a Kiln nor an EC2 type.
 */
export function resolveInstanceType(name: string): ResolvedInstanceType | undefined {
  const kiln = kilnInstanceType(name);
  if (kiln) return { requested: name, source: 'kiln', kiln };
  const size = ec2Size(name);
  if (!size) return undefined;
  return { requested: name, source: 'ec2', kiln: nearestKilnType(size, 'vm') };
}
