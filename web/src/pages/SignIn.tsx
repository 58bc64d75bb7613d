import { useEffect, useState, type FormEvent } from 'react';
import { useConfiguredRegions } from '../regions';
import { saveSession, type Session } from '../session';

/**
 * Sign in with an access key id and secret: checked by one signed API call before the session is kept. The
 * region is one of the server's configured regions (typed only if the server could not list them). The SDK is
 * imported on submit, so the sign-in page loads without it.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecret] = useState('');
  const { regions, error: regionsError } = useConfiguredRegions();
  const [region, setRegion] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (regions && !regions.includes(region)) setRegion(regions[0] ?? '');
  }, [regions]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const session: Session = { accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim(), region: region.trim() };
    let api: typeof import('../api') | undefined;
    try {
      const [loaded, { ListImagePipelinesCommand }] = await Promise.all([import('../api'), import('@aws-sdk/client-imagebuilder')]);
      api = loaded;
      await api.imagebuilder(session).send(new ListImagePipelinesCommand({ maxResults: 1 }));
      saveSession(session);
      onSignedIn(session);
    } catch (err) {
      setError(api ? api.errorText(err) : `the console's code could not be loaded (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <h1>Kiln console</h1>
      <p className="muted">Sign in with an access key of your Kiln account. The key stays in this browser tab only.</p>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <label>
          Access key id
          <input name="accessKeyId" autoComplete="username" required value={accessKeyId} onChange={(e) => setAccessKeyId(e.target.value)} />
        </label>
        <label>
          Secret access key
          <input name="secretAccessKey" type="password" autoComplete="current-password" required value={secretAccessKey} onChange={(e) => setSecret(e.target.value)} />
        </label>
        {regionsError === undefined ? (
          <label>
            Region
            <select name="region" required value={region} onChange={(e) => setRegion(e.target.value)}>
              {regions === undefined && <option value="">Loading regions…</option>}
              {(regions ?? []).map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Region
            <input name="region" required value={region} onChange={(e) => setRegion(e.target.value)} aria-describedby="signin-region-hint" />
            <span className="hint" id="signin-region-hint">
              Type it: {regionsError}.
            </span>
          </label>
        )}
        {error && (
          <p id="signin-error" role="alert" className="error">
            Sign-in failed: {error}
          </p>
        )}
        <button type="submit" disabled={busy || region === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
