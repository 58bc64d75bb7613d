import { useEffect, useRef } from 'react';
import { kilnFetch } from '../../api';
import type { Session } from '../../session';
import { readSseEvents } from '../../../../src/events/sse';
import { EVENTS_PATH, IMAGE_FILTER_PARAM, IMAGE_STATE_EVENT, type ImageStateEventData } from '../../../../src/events/stream-protocol';

const RECONNECT_MS = 2000;

/**
 * Follows one image's state changes on Kiln's event stream (GET /kiln/events, signed) while `enabled`, calling
 * `onChange` for each; reconnects when the stream drops. A refused stream is left alone (the caller polls too).
 */
export function useImageEvents(session: Session, arn: string, enabled: boolean, onChange: (change: ImageStateEventData) => void): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const follow = async () => {
      while (!controller.signal.aborted) {
        try {
          const res = await kilnFetch(session, { path: EVENTS_PATH, query: { [IMAGE_FILTER_PARAM]: arn }, signal: controller.signal, headers: { accept: 'text/event-stream' } });
          if (!res.ok || !res.body) return;
          for await (const event of readSseEvents(res.body)) {
            if (event.event === IMAGE_STATE_EVENT) callback.current(JSON.parse(event.data) as ImageStateEventData);
          }
        } catch {
          if (controller.signal.aborted) return;
        }
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    };
    void follow();
    return () => controller.abort();
  }, [session, arn, enabled]);
}
