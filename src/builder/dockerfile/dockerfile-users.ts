/**
 * Users inside the build instance: Docker's `user[:group]` resolved from the instance's own /etc/passwd and
 * /etc/group (never the host's), for USER, WORKDIR and --chown.
 */
import type { Instance } from '../../toe/instance/instance.js';

/** Numeric ids for a Docker `user[:group]`, looked up in the instance's own /etc/passwd and /etc/group. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: the user's memberships in /etc/group when no group was named, as runc computes them. */
  groups: number[];
}

/** Whether USER names root, so commands run without switching ids. */
export function isRoot(user: string): boolean {
  return user === '' || user === 'root' || user === '0' || user === 'root:root' || user === '0:0';
}

async function readOptional(instance: Instance, path: string): Promise<string> {
  try {
    return (await instance.fs.readFile(path)).toString('utf8');
  } catch {
    return '';
  }
}

/** Resolves USER or --chown the way Docker does, from the instance's files rather than the host's. */
export async function resolveUser(instance: Instance, spec: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = (await readOptional(instance, '/etc/passwd')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7);
  const group = (await readOptional(instance, '/etc/group')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  const entry = passwd.find((f) => f[0] === userPart || (/^[0-9]+$/.test(userPart) && f[2] === userPart));
  if (!entry && !/^[0-9]+$/.test(userPart)) throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  let groups: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = group.find((f) => f[0] === groupPart || (/^[0-9]+$/.test(groupPart) && f[2] === groupPart));
    if (!g && !/^[0-9]+$/.test(groupPart)) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = g ? Number(g[2]) : Number(groupPart);
  } else if (entry) {
    groups = group.filter((f) => f[3]!.split(',').includes(entry[0]!)).map((f) => Number(f[2]));
  }
  return { uid, gid, groups: [...new Set(groups)] };
}

/**
 * The argv prefix that runs a command as `user` inside the instance. setpriv (util-linux, Essential in Debian, so
 * in minbase) switches to numeric ids directly: unlike su and runuser it needs no passwd entry (Docker accepts
 * `USER 1234`), goes through no PAM stack and leaves the environment alone, which RUN must keep exactly.
 */
export async function setprivArgs(instance: Instance, user: string): Promise<string[]> {
  const ids = await resolveUser(instance, user);
  return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, ids.groups.length > 0 ? `--groups=${ids.groups.join(',')}` : '--clear-groups', '--'];
}
