import { useState } from 'react';
import { ListImageScanFindingAggregationsCommand, ListImageScanFindingsCommand, type Image, type ImageScanFinding, type SeverityCounts } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';
import { Fields } from '../shared/Fields';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';
import { useLoad } from '../shared/useLoad';

/** AWS's severities, worst first: the filter's choices. */
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNTRIAGED'] as const;

/** The first vulnerable package of a finding, as "name installed → fixed". */
function packageText(f: ImageScanFinding): string {
  const p = f.packageVulnerabilityDetails?.vulnerablePackages?.[0];
  if (!p) return '';
  return `${p.name ?? ''} ${p.version ?? ''}${p.release ? `-${p.release}` : ''}`.trim();
}

function fixedText(f: ImageScanFinding): string {
  const fixed = f.packageVulnerabilityDetails?.vulnerablePackages?.map((p) => p.fixedInVersion).filter((v) => v && v !== 'NotAvailable');
  return fixed && fixed.length > 0 ? fixed.join(', ') : 'no fix yet';
}

/**
 * The image's vulnerability scan (AWS's model): its scan state, the findings counted by severity
 * (ListImageScanFindingAggregations), and the findings (ListImageScanFindings), filtered by severity.
 */
export function ImageFindings({ session, image, resetKey }: { session: Session; image: Image; resetKey: string }) {
  const arn = image.arn ?? '';
  const [severity, setSeverity] = useState('');
  // Filtered by one image, Kiln aggregates by vulnerability (one finding each): the image's counts are their sum.
  const counts = useLoad(async (): Promise<Required<SeverityCounts>> => {
    const sum = { all: 0, critical: 0, high: 0, medium: 0 };
    let nextToken: string | undefined;
    do {
      const r = await imagebuilder(session).send(new ListImageScanFindingAggregationsCommand({ filter: { name: 'imageBuildVersionArn', values: [arn] }, nextToken }));
      for (const a of r.responses ?? []) {
        const c = (a.imageAggregation ?? a.vulnerabilityIdAggregation)?.severityCounts;
        for (const k of ['all', 'critical', 'high', 'medium'] as const) sum[k] += c?.[k] ?? 0;
      }
      nextToken = r.nextToken;
    } while (nextToken);
    return sum;
  }, `${arn} ${resetKey}`);
  const load = async (nextToken: string | undefined) => {
    const filters = [{ name: 'imageBuildVersionArn', values: [arn] }, ...(severity ? [{ name: 'severity', values: [severity] }] : [])];
    const r = await imagebuilder(session).send(new ListImageScanFindingsCommand({ filters, maxResults: PAGE_SIZE, nextToken }));
    return { items: r.findings ?? [], nextToken: r.nextToken };
  };
  const enabled = image.imageScanningConfiguration?.imageScanningEnabled === true;
  const c = counts.data;
  return (
    <section aria-labelledby="image-findings-heading">
      <h2 id="image-findings-heading">Vulnerability scan</h2>
      <Fields
        rows={[
          ['Scanning', enabled ? 'on' : 'off (imageScanningConfiguration)'],
          ['Scan state', image.scanState?.status ? <span data-testid="scan-state">{image.scanState.status}</span> : undefined],
          ['Why', image.scanState?.reason],
          [
            'Findings',
            c ? (
              <span data-testid="finding-counts">
                {c.all} in all: {c.critical} critical, {c.high} high, {c.medium} medium
              </span>
            ) : undefined,
          ],
        ]}
      />
      {counts.error !== undefined && <ErrorNote error={counts.error} action="Counting the findings" />}
      <label>
        Severity{' '}
        <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
          <option value="">all</option>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </label>
      <PagedTable<ImageScanFinding>
        caption="Findings"
        load={load}
        resetKey={`${arn} ${severity} ${resetKey}`}
        rowKey={(f) => `${f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title ?? ''} ${packageText(f)}`}
        empty={enabled ? 'No findings.' : 'No findings: scanning is off for this image.'}
        columns={[
          { header: 'Severity', cell: (f) => f.severity },
          {
            header: 'Vulnerability',
            cell: (f) => {
              const id = f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title;
              const url = f.packageVulnerabilityDetails?.sourceUrl;
              return url && /^https?:\/\//.test(url) ? (
                <a href={url} target="_blank" rel="noreferrer">
                  {id}
                </a>
              ) : (
                id
              );
            },
          },
          { header: 'Package', cell: packageText },
          { header: 'Fixed in', cell: fixedText },
          { header: 'Score', cell: (f) => (f.inspectorScore !== undefined ? String(f.inspectorScore) : '') },
          { header: 'Description', cell: (f) => f.description },
        ]}
      />
    </section>
  );
}
