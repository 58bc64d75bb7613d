/**
 * A recipe's parentImage checked against the store at create, through the resolvers its build uses
 * (build-plan.ts, machine-parent.ts), so a recipe is refused for the same reasons its build would fail on.
 * parent-image.ts has already checked the shape.
 */
import { compileContainerRef } from '../builder/stages/build-plan.js';
import { compileMachineRef } from '../builder/machine/machine-parent.js';
import { parseArn } from '../domain/arn.js';
import { isKilnError, type Issue } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { KILN_MANAGED_OWNER } from '../store/visibility.js';
import type { RequestContext } from './types.js';

/** What a recipe builds: a machine image (image recipes) or a container image (container recipes). */
export type ParentKind = 'machine' | 'container';

const FIELD = 'parentImage';

/**
 * An Amazon-managed image Kiln does not list (AWS's own catalog, `amazon-linux-2-x86`, `windows-server-…`): real
 * definitions name them, and they are valid names of an Image Builder image, so they are taken as written and a
 * build says what Kiln lacks. One Kiln lists (its managed bases) is resolved like any other image.
 */
async function unlistedManagedImage(store: Store, ctx: RequestContext, text: string): Promise<boolean> {
  const arn = parseArn(text);
  if (!arn || arn.owner !== KILN_MANAGED_OWNER || arn.region !== ctx.region) return false;
  const listed = await store.listResources({ accountId: KILN_MANAGED_OWNER, region: ctx.region, type: 'image', name: arn.name });
  return listed.length === 0;
}

/**
 * The issues of a well-shaped parentImage as the caller may use it now: a Kiln image ARN (wildcards allowed) must
 * name an AVAILABLE image of the recipe's kind that the caller may read in its region, and an `ami-` id a machine
 * image it may launch there. Registry references (resolved by the pull at build time), `ssm:` parameters (AWS's,
 * refused by a Kiln build) and Amazon-managed images Kiln does not list are not looked up.
 *
 * An imported parent whose disk has neither cloud-init nor the guest agent (its `guest`) is accepted here, as
 * AWS accepts any readable AMI: the recipe does not choose the instance type, so it cannot know whether builds
 * boot the parent (vm.*, which fails at LaunchInstance, before booting: imported-guest.ts) or enter its root
 * filesystem (ns.*, which needs neither), and the same recipe serves both through different infrastructures.
 */
export async function parentImageIssues(store: Store, ctx: RequestContext, kind: ParentKind, text: string): Promise<Issue[]> {
  const lookedUp = text.startsWith('arn:') || (kind === 'machine' && text.startsWith('ami-'));
  if (!lookedUp || (await unlistedManagedImage(store, ctx, text))) return [];
  const who = { accountId: ctx.accountId, region: ctx.region, arn: ctx.requestId };
  try {
    if (kind === 'machine') await compileMachineRef(store, who, text, FIELD);
    else await compileContainerRef(store, who, text);
    return [];
  } catch (err) {
    if (!isKilnError(err, 'InvalidArgument')) throw err;
    // The resolvers' messages begin with the field, which the issue's path already names.
    const message = err.message.startsWith(`${FIELD} `) ? err.message.slice(FIELD.length + 1) : err.message;
    return [{ path: FIELD, message }];
  }
}
