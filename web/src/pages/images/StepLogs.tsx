import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { kilnJson } from '../../api';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';
import { STEP_FINAL } from '../shared/format';
import { Status } from '../shared/Status';
import type { WorkflowRun } from './useWorkflowRuns';

/** GET /kiln/logs's answer. */
interface LogSlice {
  text: string;
  nextOffset: number;
  stepStatus: string;
}

interface StepLog {
  text: string;
  offset: number;
  done: boolean;
  trimmed: boolean;
}

/** How often running steps' logs are read; at most this much of one step's log is kept on the page. */
const POLL_MS = 1500;
const KEEP_CHARS = 400_000;
/** Reads of one step in a row before the others get their turn. */
const DRAIN_READS = 8;

interface StepRef {
  id: string;
  name: string;
  status: string | undefined;
  workflow: string;
}

function stepsOf(runs: WorkflowRun[]): StepRef[] {
  return runs.flatMap((run) =>
    run.steps.map((s) => ({ id: s.stepExecutionId ?? '', name: s.name ?? s.stepExecutionId ?? '', status: s.status, workflow: `${run.execution.type ?? ''}`.toLowerCase() })),
  ).filter((s) => s.id !== '');
}

/**
 * The live step logs of an image: each step's log read from Kiln's log route by offset, following the running
 * steps until the image's build ends and every step's log is read to its end.
 */
export function StepLogs({ session, arn, runs, live }: { session: Session; arn: string; runs: WorkflowRun[]; live: boolean }) {
  const logs = useRef(new Map<string, StepLog>());
  const [, setVersion] = useState(0);
  const [error, setError] = useState<unknown>();
  const steps = stepsOf(runs);
  const stepsRef = useRef(steps);
  stepsRef.current = steps;
  const liveRef = useRef(live);
  liveRef.current = live;
  const stepKey = steps.map((s) => s.id).join(',');

  useEffect(() => {
    logs.current = new Map();
    setVersion((n) => n + 1);
  }, [arn]);

  useEffect(() => {
    let stopped = false;
    const readStep = async (id: string) => {
      let log = logs.current.get(id);
      if (!log) logs.current.set(id, (log = { text: '', offset: 0, done: false, trimmed: false }));
      for (let i = 0; i < DRAIN_READS && !log.done && !stopped; i++) {
        const slice = await kilnJson<LogSlice>(session, { path: '/kiln/logs', query: { imageBuildVersionArn: arn, stepExecutionId: id, offset: String(log.offset) } });
        if (stopped) return;
        if (slice.text !== '') {
          log.text += slice.text;
          if (log.text.length > KEEP_CHARS) {
            log.text = log.text.slice(-KEEP_CHARS);
            log.trimmed = true;
          }
          setVersion((n) => n + 1);
        }
        const moved = slice.nextOffset !== log.offset;
        log.offset = slice.nextOffset;
        if (!moved) {
          // The status was read before the log: a final status with nothing new means the log is complete.
          if (STEP_FINAL.has(slice.stepStatus)) log.done = true;
          return;
        }
      }
    };
    const loop = async () => {
      while (!stopped) {
        try {
          for (const step of stepsRef.current) {
            if (stopped) return;
            await readStep(step.id);
          }
          setError(undefined);
        } catch (err) {
          if (!stopped) setError(err);
        }
        const allDone = stepsRef.current.every((s) => logs.current.get(s.id)?.done);
        if (!liveRef.current && allDone) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    };
    void loop();
    return () => {
      stopped = true;
    };
  }, [session, arn, stepKey, live]);

  const running = steps.filter((s) => s.status === 'RUNNING');
  return (
    <section aria-label="Step logs" className="res-logs">
      <h2>Step logs</h2>
      {live && (
        <p className="muted" aria-live="polite">
          {running.length > 0 ? `Following ${running.map((s) => s.name).join(', ')}…` : 'Waiting for the next step…'}
        </p>
      )}
      {error !== undefined && <ErrorNote error={error} action="Reading the logs" />}
      {steps.length === 0 && <p className="muted">{live ? 'No step has started yet.' : 'This image has no step logs.'}</p>}
      {steps.map((step) => (
        <StepLogView key={step.id} step={step} log={logs.current.get(step.id)} />
      ))}
    </section>
  );
}

/** One step's log in a scrollable, focusable block that keeps to its end while the reader has not scrolled up. */
function StepLogView({ step, log }: { step: StepRef; log: StepLog | undefined }) {
  const pre = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  const text = log?.text ?? '';
  useLayoutEffect(() => {
    const el = pre.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <div className="res-step" data-step-status={step.status}>
      <h3>
        {step.workflow ? `${step.workflow} · ` : ''}
        {step.name} <Status value={step.status} />
      </h3>
      {text === '' ? (
        <p className="muted">{log?.done || STEP_FINAL.has(step.status ?? '') ? 'No output.' : 'No output yet.'}</p>
      ) : (
        <pre
          ref={pre}
          tabIndex={0}
          aria-label={`Log of ${step.name}`}
          onScroll={(e) => {
            const el = e.currentTarget;
            pinned.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
          }}
        >
          {log?.trimmed ? '… (earlier output not shown)\n' : ''}
          {text}
        </pre>
      )}
    </div>
  );
}
