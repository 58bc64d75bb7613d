/**
 * Chooses QEMU's accelerator. /dev/kvm opening is not enough: on PVM hosts (kvm_pvm, software nested
 * virtualization) KVM runs only PVM-enlightened kernels, so stock guests stall or die (machine.md §4).
 */
import * as fs from 'node:fs';

export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** Why this accelerator, for logs and benchmark reports. */
  reason: string;
}

/** What the decision depends on, read from the host by `readAccelFacts` or injected by tests. */
export interface AccelFacts {
  /** /dev/kvm opened read-write; otherwise the error message. */
  kvmDevice: { ok: true } | { ok: false; error: string };
  /** /sys/module/kvm_pvm exists. */
  kvmPvmLoaded: boolean;
  /** The flags line of /proc/cpuinfo (first CPU), split on spaces. */
  cpuFlags: ReadonlySet<string>;
}

/** Reads the facts from this host; never throws. */
export function readAccelFacts(): AccelFacts {
  let kvmDevice: AccelFacts['kvmDevice'];
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    kvmDevice = { ok: true };
  } catch (err) {
    kvmDevice = { ok: false, error: (err as Error).message };
  }
  let cpuFlags = new Set<string>();
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    cpuFlags = new Set((line?.[1] ?? '').trim().split(/\s+/).filter(Boolean));
  } catch {
    // No cpuinfo: no vmx/svm can be shown, so TCG, which is the safe answer.
  }
  return { kvmDevice, kvmPvmLoaded: fs.existsSync('/sys/module/kvm_pvm'), cpuFlags };
}

/** KVM only when /dev/kvm opens, the module is not kvm_pvm and the CPU shows vmx or svm; else TCG with why. */
export function decideAccel(facts: AccelFacts): AccelChoice {
  if (!facts.kvmDevice.ok) return { accel: 'tcg', reason: `/dev/kvm unusable: ${facts.kvmDevice.error}` };
  if (facts.kvmPvmLoaded) return { accel: 'tcg', reason: 'KVM is kvm_pvm (runs only PVM-enlightened guest kernels)' };
  if (!facts.cpuFlags.has('vmx') && !facts.cpuFlags.has('svm')) return { accel: 'tcg', reason: 'no vmx or svm in /proc/cpuinfo' };
  return { accel: 'kvm', reason: `/dev/kvm usable, CPU has ${facts.cpuFlags.has('vmx') ? 'vmx' : 'svm'}` };
}

/** The accelerator to use on this host. */
export function detectAccel(): AccelChoice {
  return decideAccel(readAccelFacts());
}
