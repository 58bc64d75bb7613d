/**
 * Image scan findings in AWS's `ImageScanFinding` shape, made from an image's vulnerability matches: one finding
 * per vulnerability, listing every binary package it affects (Inspector's grouping). Stored as JSON with ISO
 * timestamps; the wire turns them into epoch seconds. A rescan keeps each finding's firstObservedAt.
 */
import { cvss3BaseScore, severityOfScore, severityOfWord, type FindingSeverity } from './cvss.js';
import { parseDpkgVersion } from './dpkg-version.js';
import type { VulnerabilityMatch } from './vulnerability-advisories.js';

/** An ImageScanFinding as stored on the image record (timestamps as ISO strings). */
export interface StoredFinding {
  awsAccountId: string;
  imageBuildVersionArn: string;
  imagePipelineArn?: string;
  type: 'PACKAGE_VULNERABILITY';
  title: string;
  description: string;
  remediation: { recommendation: { text: string; url?: string } };
  severity: FindingSeverity;
  firstObservedAt: string;
  updatedAt: string;
  inspectorScore?: number;
  inspectorScoreDetails?: { adjustedCvss: { scoreSource: string; cvssSource: string; version: string; score: number; scoringVector: string; adjustments: { metric: string; reason: string }[] } };
  packageVulnerabilityDetails: {
    vulnerabilityId: string;
    vulnerablePackages: { name: string; version: string; epoch: number; release: string; arch: string; packageManager: 'OS'; fixedInVersion: string; remediation: string }[];
    source: string;
    cvss: { baseScore: number; scoringVector: string; version: string; source: string }[];
    relatedVulnerabilities: string[];
    sourceUrl?: string;
    vendorSeverity?: string;
    vendorCreatedAt?: string;
    vendorUpdatedAt?: string;
    referenceUrls: string[];
  };
  fixAvailable: 'YES' | 'NO' | 'PARTIAL';
}

/** Whose image the findings are of. */
export interface FindingContext {
  accountId: string;
  imageArn: string;
  pipelineArn?: string;
  /** ISO time of this scan. */
  now: string;
}

/**
 * The findings of one scan, sorted by vulnerability id; a vulnerability in `previous` keeps its firstObservedAt
 * (and its updatedAt when nothing about it changed).
 */
export function findingsOf(matches: VulnerabilityMatch[], context: FindingContext, previous: readonly StoredFinding[] = []): StoredFinding[] {
  const byId = new Map<string, VulnerabilityMatch[]>();
  for (const m of matches) byId.set(m.advisory.id, [...(byId.get(m.advisory.id) ?? []), m]);
  const before = new Map(previous.map((f) => [f.packageVulnerabilityDetails.vulnerabilityId, f]));
  const out: StoredFinding[] = [];
  for (const [id, group] of [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const advisory = group[0]!.advisory;
    const scored = advisory.cvssVector ? cvss3BaseScore(advisory.cvssVector) : undefined;
    const severity = scored ? severityOfScore(scored.score) : severityOfWord(advisory.vendorSeverity);
    const seen = new Set<string>();
    const packages = group.filter((m) => !seen.has(`${m.package.name}/${m.package.architecture}`) && seen.add(`${m.package.name}/${m.package.architecture}`)).map((m) => {
      const v = parseDpkgVersion(m.package.version);
      return {
        name: m.package.name,
        version: v.upstream,
        epoch: v.epoch,
        release: v.revision,
        arch: m.package.architecture,
        packageManager: 'OS' as const,
        fixedInVersion: m.fixedInVersion ?? 'NotAvailable',
        remediation: m.fixedInVersion ? `Upgrade ${m.package.source} to ${m.fixedInVersion} or later` : 'None provided',
      };
    });
    const fixed = packages.filter((p) => p.fixedInVersion !== 'NotAvailable').length;
    const sources = [...new Set(group.map((m) => m.package.source))];
    const fixes = [...new Set(group.flatMap((m) => (m.fixedInVersion ? [`${m.package.source} ${m.fixedInVersion}`] : [])))];
    const finding: StoredFinding = {
      awsAccountId: context.accountId,
      imageBuildVersionArn: context.imageArn,
      ...(context.pipelineArn ? { imagePipelineArn: context.pipelineArn } : {}),
      type: 'PACKAGE_VULNERABILITY',
      title: `${id} - ${[...new Set(packages.map((p) => p.name))].join(', ')}`,
      description: advisory.details || advisory.summary || `${id} affects ${sources.join(', ')}`,
      remediation: { recommendation: { text: fixes.length > 0 ? `Upgrade to ${fixes.join(', ')} or later.` : 'None provided' } },
      severity,
      firstObservedAt: context.now,
      updatedAt: context.now,
      ...(scored ? {
        inspectorScore: scored.score,
        inspectorScoreDetails: { adjustedCvss: { scoreSource: advisory.source, cvssSource: advisory.source, version: scored.version, score: scored.score, scoringVector: advisory.cvssVector!, adjustments: [] } },
      } : {}),
      packageVulnerabilityDetails: {
        vulnerabilityId: id,
        vulnerablePackages: packages,
        source: advisory.source,
        cvss: scored ? [{ baseScore: scored.score, scoringVector: advisory.cvssVector!, version: scored.version, source: advisory.source }] : [],
        relatedVulnerabilities: advisory.aliases,
        ...(advisory.sourceUrl ? { sourceUrl: advisory.sourceUrl } : {}),
        ...(advisory.vendorSeverity ? { vendorSeverity: advisory.vendorSeverity } : {}),
        ...(advisory.published ? { vendorCreatedAt: advisory.published } : {}),
        ...(advisory.modified ? { vendorUpdatedAt: advisory.modified } : {}),
        referenceUrls: advisory.references,
      },
      fixAvailable: fixed === packages.length ? 'YES' : fixed === 0 ? 'NO' : 'PARTIAL',
    };
    const old = before.get(id);
    if (old) {
      finding.firstObservedAt = old.firstObservedAt;
      if (JSON.stringify({ ...old, updatedAt: '' }) === JSON.stringify({ ...finding, updatedAt: '' })) finding.updatedAt = old.updatedAt;
    }
    out.push(finding);
  }
  return out;
}

/** Severity counts as ListImageScanFindingAggregations reports them. */
export interface SeverityCounts {
  all: number;
  critical: number;
  high: number;
  medium: number;
}

/** Counts findings by severity (LOW, INFORMATIONAL and UNTRIAGED count in `all` only, as AWS's shape has no field for them). */
export function severityCounts(findings: readonly StoredFinding[]): SeverityCounts {
  const counts: SeverityCounts = { all: 0, critical: 0, high: 0, medium: 0 };
  for (const f of findings) {
    counts.all++;
    if (f.severity === 'CRITICAL') counts.critical++;
    else if (f.severity === 'HIGH') counts.high++;
    else if (f.severity === 'MEDIUM') counts.medium++;
  }
  return counts;
}
