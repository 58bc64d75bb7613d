import { useEffect, useId, useRef, useState } from 'react';
import { ErrorNote } from './ErrorNote';

interface Props {
  /** What is deleted, in words: "image recipe web 1.0.0". */
  what: string;
  /** The resource's ARN (left out of the "in use by" list of a refusal). */
  arn: string;
  remove: () => Promise<unknown>;
  /** After the API deleted it (go back to the list, say). */
  onDeleted: () => void;
}

/**
 * "Delete" with an inline confirmation (a labelled group that takes focus, so it works by keyboard and screen
 * reader alike); the API decides, and a refusal is explained next to the button.
 */
export function DeleteAction({ what, arn, remove, onDeleted }: Props) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const questionId = useId();
  const confirmRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (wasConfirming.current) deleteRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await remove();
      onDeleted();
    } catch (err) {
      setError(err);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="res-delete">
      {!confirming ? (
        <button type="button" className="res-danger" ref={deleteRef} onClick={() => setConfirming(true)}>
          Delete
        </button>
      ) : (
        <div role="group" aria-labelledby={questionId} className="res-confirm" onKeyDown={(e) => e.key === 'Escape' && setConfirming(false)}>
          <p id={questionId}>Delete {what}? This cannot be undone.</p>
          <div className="actions">
            <button type="button" className="res-danger" ref={confirmRef} disabled={busy} onClick={() => void confirm()}>
              {busy ? 'Deleting…' : 'Yes, delete'}
            </button>
            <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        </div>
      )}
      {error !== undefined && <ErrorNote error={error} action="Delete" self={arn} />}
    </div>
  );
}
