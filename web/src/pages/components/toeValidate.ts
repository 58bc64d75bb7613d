import { kilnJson, type FieldIssue } from '../../api';
import type { Session } from '../../session';

/** Checks a component document on the server with exactly the rules of `kiln toe validate` (POST /kiln/toe/validate). */
export async function validateDocument(session: Session, data: string): Promise<FieldIssue[]> {
  const r = await kilnJson<{ valid: boolean; issues: FieldIssue[] }>(session, { method: 'POST', path: '/kiln/toe/validate', body: { data } });
  return r.issues;
}
