/**
 * How a vm build boots an imported parent, from what its import found on the disk (disk-inspection.ts, recorded
 * as the image's `data.guest`). Kiln drives a build VM through the QEMU guest agent; an imported disk gets it from
 * cloud-init reading Kiln's NoCloud seed (cloud-init-seed.ts). A disk known to have neither cannot be reached,
 * and waiting out the boot timeout to learn that helps nobody, so the build fails before booting.
 */
import { KilnError } from '../../domain/errors.js';
import type { GuestAccess } from './disk-inspection.js';
import type { MachineParent } from './machine-parent.js';

/** The guest access recorded on an imported image; undefined when unknown (unreadable root, or imported before inspection). */
export function recordedGuest(data: Record<string, unknown> | undefined): GuestAccess | undefined {
  const guest = data?.guest as Partial<GuestAccess> | undefined;
  return guest && typeof guest === 'object' && typeof guest.cloudInit === 'boolean' && typeof guest.agent === 'boolean' ? { cloudInit: guest.cloudInit, agent: guest.agent } : undefined;
}

/**
 * Whether the build VM of an imported `parent` boots with the cloud-init seed. InvalidArgument (naming
 * parentImage, as the recipe wrote it in `requested`) when the disk is known to have neither cloud-init nor the
 * agent. A disk with the agent and no cloud-init boots without the seed: nothing on it would read the seed, and
 * its boot is not given the seed's extra time to install a package. Unknown disks keep the seed, as before.
 */
export function importedBootSeed(parent: MachineParent, requested: string, log: (text: string) => void): boolean {
  const guest = recordedGuest(parent.image?.data);
  if (guest && !guest.cloudInit && !guest.agent) {
    throw new KilnError(
      'InvalidArgument',
      `parentImage ${requested}: the imported disk has neither cloud-init nor the QEMU guest agent (qemu-ga), so a vm build cannot reach it. Install cloud-init or qemu-guest-agent in the image and import it again, or build on it with an ns.* instance type, which does not boot it.`,
      [{ path: 'parentImage', message: 'the imported image has neither cloud-init nor qemu-guest-agent' }],
    );
  }
  if (guest?.agent && !guest.cloudInit) {
    log('the parent is an imported image with the QEMU guest agent and no cloud-init: booting it as it is, without a seed\n');
    return false;
  }
  log('the parent is an imported image without a guest agent: booting it with a cloud-init NoCloud seed that installs qemu-guest-agent\n');
  return true;
}
