/**
 * Loop devices backed by an instance's root volume. mount(8) sets them up with autoclear, so each detaches once
 * the last mount of its filesystem is gone (when the instance's mount namespace dies); dispose waits for that,
 * so an instance that is released holds no loop device, and a sweep can tell which devices a dead one left.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { KilnError } from '../../domain/errors.js';

const DETACH_WAIT_MS = 10_000;

function backingFile(device: string): string | undefined {
  try {
    return readFileSync(`/sys/block/${device}/loop/backing_file`, 'utf8').trim().replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

/** The loop devices (`loop3`) whose backing file is `file` (an absolute path). */
export function loopDevicesOf(file: string): string[] {
  let devices: string[];
  try {
    devices = readdirSync('/sys/block').filter((d) => d.startsWith('loop'));
  } catch {
    return [];
  }
  return devices.filter((d) => backingFile(d) === file);
}

/** Waits until none of `devices` is backed by `file` any more; throws naming the ones still attached. */
export async function waitLoopDetached(devices: readonly string[], file: string): Promise<void> {
  const deadline = Date.now() + DETACH_WAIT_MS;
  for (;;) {
    const left = devices.filter((d) => backingFile(d) === file);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new KilnError('Internal', `loop devices ${left.map((d) => `/dev/${d}`).join(', ')} still hold ${file}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
