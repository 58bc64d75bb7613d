import { useEffect } from 'react';
import { kilnJson } from '../../api';
import type { Session } from '../../session';
import { useLoad } from '../shared/useLoad';

/** One managed base as GET /kiln/bases reports it (src/builder/bases/base-progress.ts). */
interface BaseStatus {
  name: string;
  arn: string;
  kind: 'container' | 'machine';
  state: 'absent' | 'preparing' | 'ready' | 'failed';
  phase?: string;
  percent?: number;
  secondsLeft?: number;
  reason?: string;
}

function progressText(b: BaseStatus): string {
  if (b.state === 'preparing') return `${b.phase ?? 'preparing'}${b.secondsLeft === undefined ? '' : `, about ${b.secondsLeft} s left`}`;
  if (b.state === 'failed') return b.reason ?? 'failed';
  if (b.state === 'absent') return 'prepared on first use (or: kiln bases prefetch)';
  return 'ready';
}

/**
 * The Kiln-managed Debian bases and how far their preparation is: a first build on one that is not ready waits
 * for it. Refreshes every few seconds while one is being prepared.
 */
export function ManagedBasesPanel({ session }: { session: Session }) {
  const bases = useLoad(() => kilnJson<{ bases: BaseStatus[] }>(session, { path: '/kiln/bases' }), `bases-${session.accessKeyId}`);
  const preparing = bases.data?.bases.some((b) => b.state === 'preparing') ?? false;
  const { reload } = bases;
  useEffect(() => {
    if (!preparing) return undefined;
    const timer = setInterval(reload, 3000);
    return () => clearInterval(timer);
  }, [preparing, reload]);
  if (!bases.data || bases.data.bases.every((b) => b.state === 'ready')) return null;
  return (
    <section aria-labelledby="managed-bases-heading">
      <h2 id="managed-bases-heading">Managed base images</h2>
      <table>
        <caption>Kiln-managed bases (owner Amazon) not ready yet</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
          </tr>
        </thead>
        <tbody>
          {bases.data.bases.map((b) => (
            <tr key={b.arn}>
              <td>{b.name}</td>
              <td>{b.kind}</td>
              <td>{b.state}</td>
              <td>
                {b.state === 'preparing' ? <progress max={100} value={b.percent ?? 0} aria-label={`${b.name} ${b.percent ?? 0}%`} /> : null} {progressText(b)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
