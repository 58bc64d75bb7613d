import { useState, type FormEvent } from 'react';
import { ListImagePipelinesCommand } from '@aws-sdk/client-imagebuilder';
import { errorText, imagebuilder } from '../api';
import { saveSession, type Session } from '../session';

/** Sign in with an access key id and secret: checked by one signed API call before the session is kept. */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecret] = useState('');
  const [region, setRegion] = useState('local');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const session: Session = { accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim(), region: region.trim() };
    try {
      await imagebuilder(session).send(new ListImagePipelinesCommand({ maxResults: 1 }));
      saveSession(session);
      onSignedIn(session);
    } catch (err) {
      setError(errorText(err));
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
        <label>
          Region
          <input name="region" required value={region} onChange={(e) => setRegion(e.target.value)} />
        </label>
        {error && (
          <p id="signin-error" role="alert" className="error">
            Sign-in failed: {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
