import { ListImageScanFindingsCommand, type ImageScanFinding } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';
import { useLoad } from '../shared/useLoad';

type Findings = { findings: ImageScanFinding[] } | { unsupported: string };

/** Vulnerability scan findings of the image (ListImageScanFindings); says so plainly when this Kiln has none to give. */
export function ImageFindings({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async (): Promise<Findings> => {
    try {
      const r = await imagebuilder(session).send(new ListImageScanFindingsCommand({ filters: [{ name: 'imageBuildVersionArn', values: [arn] }] }));
      return { findings: r.findings ?? [] };
    } catch (err) {
      // An operation this Kiln does not implement is not an error of this image.
      if (err instanceof Error && /does not implement/i.test(err.message)) return { unsupported: err.message };
      throw err;
    }
  }, arn);
  const d = loaded.data;
  return (
    <section aria-labelledby="image-findings-heading">
      <h2 id="image-findings-heading">Scan findings</h2>
      {loaded.error !== undefined && <ErrorNote error={loaded.error} action="Reading the findings" />}
      {d && 'unsupported' in d && <p className="muted">None: this Kiln does not scan images for vulnerabilities.</p>}
      {d && 'findings' in d && d.findings.length === 0 && <p className="muted">No findings.</p>}
      {d && 'findings' in d && d.findings.length > 0 && (
        <div className="res-table-wrap res-list">
          <table>
            <caption>Findings</caption>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Title</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {d.findings.map((f, i) => (
                <tr key={i}>
                  <td data-label="Severity">{f.severity}</td>
                  <td data-label="Title">{f.title}</td>
                  <td data-label="Description">{f.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
