import type { Issue } from '../domain/errors.js';
import { isJsonObject } from '../domain/json.js';

/**
 * Resource policies as AWS RAM reads them for Image Builder: `{Version, Statement: [{Effect, Principal: {AWS},
 * Action, Resource}]}`. Kiln enforces sharing per account, read-only and unconditionally, so a policy is
 * reduced to the set of accounts it grants; anything Kiln could not enforce exactly is refused rather than
 * half-honoured.
 */

/** The actions a policy may grant on each shareable resource type (AWS's user guide, "Share resources"). */
export const SHAREABLE_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  component: ['imagebuilder:GetComponent', 'imagebuilder:ListComponents'],
  image: ['imagebuilder:GetImage', 'imagebuilder:ListImages'],
  'image-recipe': ['imagebuilder:GetImageRecipe', 'imagebuilder:ListImageRecipes'],
  'container-recipe': ['imagebuilder:GetContainerRecipe', 'imagebuilder:ListContainerRecipes'],
};

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource']);
/** Elements Kiln cannot enforce: grants are whole accounts, all listed actions, no conditions. */
const UNSUPPORTED_KEYS = new Set(['Condition', 'NotPrincipal', 'NotAction', 'NotResource']);
const ACCOUNT_RE = /^[0-9]{12}$/;
const ROOT_ARN_RE = /^arn:aws[^:]*:iam::([0-9]{12}):root$/;
const IAM_ARN_RE = /^arn:aws[^:]*:iam::[0-9]{12}:/;
/** The model's bound on a policy document. */
export const MAX_POLICY_LENGTH = 30000;

/** What a policy grants, or every problem found in it (paths start at `policy`). */
export interface ParsedPolicy {
  /** Account ids granted read access, or `['*']` for every account; the owner is left out. */
  grantees: string[];
  issues: Issue[];
}

/** The resource a policy is put on. */
export interface PolicyTarget {
  type: string;
  arn: string;
  owner: string;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** Reads one statement's principals into account ids and `*`, reporting what is not an account. */
async function principals(value: unknown, path: string, issues: Issue[], accountExists: (id: string) => Promise<boolean>): Promise<string[]> {
  if (value === '*') return ['*'];
  if (!isJsonObject(value)) {
    issues.push({ path, message: 'must be "*" or {"AWS": <account id | arn:aws:iam::<account id>:root | "*">, or a list of them}' });
    return [];
  }
  for (const key of Object.keys(value)) {
    if (key !== 'AWS') issues.push({ path: `${path}.${key}`, message: 'is not a principal Kiln can share with: resources are shared with accounts, under "AWS"' });
  }
  if (value.AWS === undefined) {
    issues.push({ path: `${path}.AWS`, message: 'is required: the account ids to share with' });
    return [];
  }
  const entries = asList(value.AWS);
  const many = Array.isArray(value.AWS);
  const out: string[] = [];
  for (const [j, entry] of entries.entries()) {
    const at = many ? `${path}.AWS[${j}]` : `${path}.AWS`;
    const text = typeof entry === 'string' ? entry.trim() : undefined;
    const id = text === undefined ? undefined : text === '*' ? '*' : ACCOUNT_RE.test(text) ? text : ROOT_ARN_RE.exec(text)?.[1];
    if (id === undefined) {
      const why = text !== undefined && IAM_ARN_RE.test(text)
        ? 'names an IAM user or role; Kiln shares with whole accounts: use the account id or arn:aws:iam::<account id>:root'
        : 'is not an account id (12 digits), arn:aws:iam::<account id>:root or "*"';
      issues.push({ path: at, message: `${JSON.stringify(entry)} ${why}` });
    } else if (id !== '*' && !(await accountExists(id))) {
      issues.push({ path: at, message: `${JSON.stringify(entry)} is not a Kiln account` });
    } else out.push(id);
  }
  return out;
}

/** Checks the statement's actions against the resource type; true when they name every shareable action. */
function actions(value: unknown, path: string, type: string, issues: Issue[]): boolean {
  const allowed = SHAREABLE_ACTIONS[type] ?? [];
  if (value === undefined) {
    issues.push({ path, message: `is required: ${allowed.join(', ')}` });
    return false;
  }
  const many = Array.isArray(value);
  const named = new Set<string>();
  asList(value).forEach((a, j) => {
    // IAM matches action names case-insensitively.
    const match = typeof a === 'string' ? allowed.find((x) => x.toLowerCase() === a.trim().toLowerCase()) : undefined;
    if (match === undefined) {
      issues.push({ path: many ? `${path}[${j}]` : path, message: `${JSON.stringify(a)} is not an action that can be shared on a ${type}; use ${allowed.join(', ')}` });
    } else named.add(match);
  });
  if (many && (value as unknown[]).length === 0) issues.push({ path, message: `must name at least one of ${allowed.join(', ')}` });
  return allowed.every((a) => named.has(a));
}

function resources(value: unknown, path: string, target: PolicyTarget, issues: Issue[]): void {
  if (value === undefined) return;
  const many = Array.isArray(value);
  asList(value).forEach((r, j) => {
    if (r !== target.arn && r !== '*') {
      issues.push({ path: many ? `${path}[${j}]` : path, message: `${JSON.stringify(r)} is not the resource this policy is put on; use ${target.arn}` });
    }
  });
}

/**
 * Parses a resource policy for `target`: every problem with its path, or the accounts granted. An Allow grants
 * its accounts; a Deny of every shareable action takes accounts away (or everyone, for `*`); a Deny Kiln could
 * not enforce exactly (some actions only, or exceptions to an Allow of `*`) is refused.
 */
export async function parseResourcePolicy(text: string, target: PolicyTarget, accountExists: (id: string) => Promise<boolean>): Promise<ParsedPolicy> {
  const issues: Issue[] = [];
  const fail = (message: string, path = 'policy'): ParsedPolicy => ({ grantees: [], issues: [{ path, message }] });
  if (text.length < 1 || text.length > MAX_POLICY_LENGTH) return fail(`must be 1-${MAX_POLICY_LENGTH} characters`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`is not valid JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(doc)) return fail('must be a JSON object with Version and Statement');
  for (const key of Object.keys(doc)) {
    if (key !== 'Version' && key !== 'Id' && key !== 'Statement') issues.push({ path: `policy.${key}`, message: 'is not a policy element; use Version, Id and Statement' });
  }
  if (doc.Version !== undefined && !VERSIONS.has(String(doc.Version))) issues.push({ path: 'policy.Version', message: `must be 2012-10-17 (or 2008-10-17), not ${JSON.stringify(doc.Version)}` });
  if (doc.Statement === undefined || (Array.isArray(doc.Statement) && doc.Statement.length === 0)) {
    issues.push({ path: 'policy.Statement', message: 'is required: at least one statement' });
    return { grantees: [], issues };
  }

  const allowed = new Set<string>();
  const denied = new Set<string>();
  const many = Array.isArray(doc.Statement);
  for (const [i, statement] of asList(doc.Statement).entries()) {
    const path = many ? `policy.Statement[${i}]` : 'policy.Statement';
    if (!isJsonObject(statement)) {
      issues.push({ path, message: 'must be an object with Effect, Principal and Action' });
      continue;
    }
    for (const key of Object.keys(statement)) {
      if (UNSUPPORTED_KEYS.has(key)) issues.push({ path: `${path}.${key}`, message: 'cannot be honoured: Kiln shares with whole accounts, for the listed actions, without conditions' });
      else if (!STATEMENT_KEYS.has(key)) issues.push({ path: `${path}.${key}`, message: 'is not a statement element; use Sid, Effect, Principal, Action and Resource' });
    }
    const effect = statement.Effect;
    if (effect !== 'Allow' && effect !== 'Deny') issues.push({ path: `${path}.Effect`, message: `must be Allow or Deny, not ${JSON.stringify(effect)}` });
    const accounts = await principals(statement.Principal, `${path}.Principal`, issues, accountExists);
    const everyAction = actions(statement.Action, `${path}.Action`, target.type, issues);
    resources(statement.Resource, `${path}.Resource`, target, issues);
    if (effect === 'Deny' && !everyAction) {
      issues.push({ path: `${path}.Action`, message: `cannot be honoured: Kiln grants all or nothing to an account, so a Deny must name every action (${(SHAREABLE_ACTIONS[target.type] ?? []).join(', ')})` });
    }
    for (const a of accounts) (effect === 'Deny' ? denied : allowed).add(a);
  }
  if (allowed.has('*') && denied.size > 0 && !denied.has('*')) {
    issues.push({ path: 'policy.Statement', message: 'cannot be honoured: a Deny of some accounts next to an Allow of "*"; Kiln\'s grant to everyone has no exceptions, so list the accounts to allow instead' });
  }
  if (issues.length > 0) return { grantees: [], issues };
  if (denied.has('*')) return { grantees: [], issues };
  if (allowed.has('*')) return { grantees: ['*'], issues };
  return { grantees: [...allowed].filter((a) => !denied.has(a) && a !== target.owner).sort(), issues };
}
