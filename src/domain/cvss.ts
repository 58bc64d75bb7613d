/**
 * CVSS v3.0/v3.1 base scores from their vectors (FIRST's specification, section 7.1 and Appendix A's Roundup),
 * and the severity bands Inspector reports: scanning ranks findings by the score the vector gives, not by a
 * number a feed may have rounded differently.
 */

const WEIGHTS: Record<string, Record<string, number>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};

/** The specification's Roundup: the smallest one-decimal number not below x, robust to floating-point noise. */
function roundUp(x: number): number {
  const n = Math.round(x * 100000);
  return n % 10000 === 0 ? n / 100000 : (Math.floor(n / 10000) + 1) / 10;
}

/** A parsed vector: its version (`3.0`, `3.1`) and base score; undefined when the vector is not a full CVSS v3 base vector. */
export function cvss3BaseScore(vector: string): { version: string; score: number } | undefined {
  const parts = vector.trim().split('/');
  const head = /^CVSS:(3\.[01])$/.exec(parts[0] ?? '');
  if (!head) return undefined;
  const m = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const [k, v] = p.split(':');
    if (k && v) m.set(k, v);
  }
  const scope = m.get('S');
  const pr = m.get('PR');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const prWeight = pr === 'N' ? 0.85 : pr === 'L' ? (scope === 'C' ? 0.68 : 0.62) : pr === 'H' ? (scope === 'C' ? 0.5 : 0.27) : undefined;
  const w = (k: string): number | undefined => WEIGHTS[k]![m.get(k) ?? ''];
  const [av, ac, ui, c, i, a] = ['AV', 'AC', 'UI', 'C', 'I', 'A'].map(w);
  if (prWeight === undefined || [av, ac, ui, c, i, a].some((x) => x === undefined)) return undefined;
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * av! * ac! * prWeight * ui!;
  const score = impact <= 0 ? 0 : scope === 'U' ? roundUp(Math.min(impact + exploitability, 10)) : roundUp(Math.min(1.08 * (impact + exploitability), 10));
  return { version: head[1]!, score };
}

/** Inspector's severities. */
export type FindingSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNTRIAGED';

/** The band of a CVSS v3 score: 9.0+ CRITICAL, 7.0+ HIGH, 4.0+ MEDIUM, 0.1+ LOW, 0 INFORMATIONAL. */
export function severityOfScore(score: number): FindingSeverity {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'INFORMATIONAL';
}

/**
 * A feed's own word for severity (Debian's urgency `high`/`medium`/`low`/`unimportant`, GHSA-style
 * `CRITICAL`/`MODERATE`) as Inspector's severity; UNTRIAGED when it says nothing Kiln can rank (`not yet assigned`).
 */
export function severityOfWord(word: string | undefined): FindingSeverity {
  const w = (word ?? '').toLowerCase().replace(/\*+$/, '').trim();
  if (w === 'critical') return 'CRITICAL';
  if (w === 'high' || w === 'important') return 'HIGH';
  if (w === 'medium' || w === 'moderate') return 'MEDIUM';
  if (w === 'low') return 'LOW';
  if (w === 'unimportant' || w === 'negligible') return 'INFORMATIONAL';
  return 'UNTRIAGED';
}
