import { useEffect, useRef, useState } from 'react';
import { kilnJson } from '../../api';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';
import { useLoad } from '../shared/useLoad';

const WEBHOOK_PATH = '/kiln/pipelines/webhook';

/** What POST /kiln/pipelines/webhook answers: the token is in this answer only (Kiln keeps its hash). */
interface NewWebhook {
  url: string;
  token: string;
}

/**
 * A pipeline's webhook trigger, as `kiln pipelines webhook` manages it: create, rotate (a new URL and token; the
 * old ones stop working) and delete. The token is shown once, right after create or rotate, with the URL.
 */
export function PipelineWebhook({ session, arn, refresh }: { session: Session; arn: string; refresh: number }) {
  const [round, setRound] = useState(0);
  const current = useLoad(
    async () => (await kilnJson<{ webhook?: { url: string } }>(session, { path: '/kiln/pipelines/history', query: { imagePipelineArn: arn } })).webhook,
    `${arn} ${refresh} ${round}`,
  );
  const [fresh, setFresh] = useState<NewWebhook>();
  const [busy, setBusy] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<{ action: string; error: unknown }>();
  const secretRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (fresh) secretRef.current?.focus();
  }, [fresh]);

  const act = async (action: string, fn: () => Promise<void>) => {
    setBusy(action);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError({ action, error: err });
    } finally {
      setBusy(undefined);
      setConfirming(false);
      setRound((n) => n + 1);
    }
  };
  const create = (action: string) =>
    act(action, async () => {
      setFresh(undefined);
      setFresh(await kilnJson<NewWebhook>(session, { method: 'POST', path: WEBHOOK_PATH, body: { imagePipelineArn: arn } }));
    });
  const remove = () =>
    act('Delete webhook', async () => {
      await kilnJson(session, { method: 'DELETE', path: WEBHOOK_PATH, query: { imagePipelineArn: arn } });
      setFresh(undefined);
    });

  const url = fresh?.url ?? current.data?.url;
  return (
    <section aria-labelledby="pipeline-webhook-heading">
      <h2 id="pipeline-webhook-heading">Webhook trigger</h2>
      {current.error !== undefined && <ErrorNote error={current.error} action="Reading the webhook" />}
      {!current.loading && url === undefined && current.error === undefined && (
        <p className="muted">No webhook. A webhook lets a CI system or a registry start a run with an HTTP POST and a secret token.</p>
      )}
      {url !== undefined && !fresh && (
        <p>
          URL: <code data-testid="webhook-url">{url}</code>
          <span className="muted"> (its token was shown once, when it was made; rotate to get a new one)</span>
        </p>
      )}
      {fresh && (
        <div className="panel res-secret" role="region" aria-label="New webhook token" tabIndex={-1} ref={secretRef}>
          <p>
            <strong>Copy the token now: it is shown only this once.</strong> Kiln keeps only its hash.
          </p>
          <label>
            URL
            <input readOnly value={fresh.url} data-testid="webhook-url" onFocus={(e) => e.target.select()} />
          </label>
          <label>
            Token
            <input readOnly value={fresh.token} data-testid="webhook-token" onFocus={(e) => e.target.select()} spellCheck={false} />
          </label>
          <p className="muted">
            Start a run: <code>curl -X POST -H "Authorization: Bearer TOKEN" URL</code> (add <code>?force=true</code> to run even when nothing changed).
          </p>
          <button type="button" onClick={() => setFresh(undefined)}>
            Done
          </button>
        </div>
      )}
      <div className="actions">
        {url === undefined ? (
          <button type="button" disabled={busy !== undefined || current.loading} onClick={() => void create('Create webhook')}>
            {busy === 'Create webhook' ? 'Creating…' : 'Create webhook'}
          </button>
        ) : (
          <>
            <button type="button" disabled={busy !== undefined} onClick={() => void create('Rotate token')}>
              {busy === 'Rotate token' ? 'Rotating…' : 'Rotate token'}
            </button>
            {!confirming ? (
              <button type="button" className="res-danger" disabled={busy !== undefined} onClick={() => setConfirming(true)}>
                Delete webhook
              </button>
            ) : (
              <span role="group" aria-label="Delete the webhook? Callers using it are refused from then on." className="res-confirm-inline">
                <button type="button" className="res-danger" disabled={busy !== undefined} onClick={() => void remove()} autoFocus>
                  {busy === 'Delete webhook' ? 'Deleting…' : 'Yes, delete the webhook'}
                </button>
                <button type="button" disabled={busy !== undefined} onClick={() => setConfirming(false)}>
                  Keep it
                </button>
              </span>
            )}
          </>
        )}
      </div>
      {url !== undefined && !fresh && <p className="muted">Rotating gives a new URL and token; the old ones stop working at once.</p>}
      {error && <ErrorNote error={error.error} action={error.action} self={arn} />}
    </section>
  );
}
