import { useCallback, useEffect, useRef, useState } from 'react';
import { GetImageCommand, type Image } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { IMAGE_IN_PROGRESS } from '../shared/format';
import { useImageEvents } from './useImageEvents';

/** How often a build under way is read again when no event arrives. */
const POLL_MS = 4000;

export interface LiveImage {
  image: Image | undefined;
  error: unknown;
  loading: boolean;
  /** True while the build is under way (and before the first answer). */
  live: boolean;
  /** Increases on every state change seen (event or read), so dependent views can refresh. */
  changes: number;
  reload: () => void;
}

/**
 * GetImage for one build version, kept current while the build is under way: read again on every state change
 * the event stream reports, and every few seconds in case the stream is unavailable.
 */
export function useImage(session: Session, arn: string): LiveImage {
  const [image, setImage] = useState<Image>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [changes, setChanges] = useState(0);
  const [round, setRound] = useState(0);
  const status = useRef<string | undefined>(undefined);

  useEffect(() => {
    setImage(undefined);
    setError(undefined);
    status.current = undefined;
  }, [arn]);

  useEffect(() => {
    let current = true;
    setLoading(true);
    imagebuilder(session)
      .send(new GetImageCommand({ imageBuildVersionArn: arn }))
      .then((r) => {
        if (!current) return;
        setImage(r.image);
        setError(undefined);
        const next = r.image?.state?.status;
        if (next !== status.current) {
          status.current = next;
          setChanges((n) => n + 1);
        }
      })
      .catch((err: unknown) => current && setError(err))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [session, arn, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  const live = image === undefined ? error === undefined : IMAGE_IN_PROGRESS.has(image.state?.status ?? '');

  useImageEvents(session, arn, live && image !== undefined, (change) => {
    if (change.status !== status.current) reload();
  });
  useEffect(() => {
    if (!live || image === undefined) return;
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [live, image === undefined, reload]);

  return { image, error, loading, live, changes, reload };
}
