import { useState } from 'react';
import {
  DeleteImagePipelineCommand,
  GetImagePipelineCommand,
  StartImagePipelineExecutionCommand,
  UpdateImagePipelineCommand,
} from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { navigate } from '../../router';
import type { Session } from '../../session';
import { ArnLink } from '../shared/ArnLink';
import { DateText } from '../shared/DateText';
import { DeleteAction } from '../shared/DeleteAction';
import { DetailFrame } from '../shared/DetailFrame';
import { ErrorNote } from '../shared/ErrorNote';
import { Fields } from '../shared/Fields';
import { Status } from '../shared/Status';
import { useLoad } from '../shared/useLoad';
import { tagsText, ValueView } from '../shared/ValueView';
import { PipelineHistory } from './PipelineHistory';
import { PipelineImages } from './PipelineImages';
import { PipelineWebhook } from './PipelineWebhook';
import { statusUpdate } from './pipelineUpdate';
import { ScheduleText } from './ScheduleText';

/**
 * One image pipeline: its settings, "Run pipeline" (StartImagePipelineExecution, then the new image's page),
 * enable/disable, delete, the recent schedule ticks, the images it built and its webhook trigger.
 */
export function PipelineDetail({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline, arn);
  const [busy, setBusy] = useState<string>();
  const [actionError, setActionError] = useState<{ action: string; error: unknown }>();
  const [refresh, setRefresh] = useState(0);
  const p = loaded.data;

  const act = async (action: string, fn: () => Promise<void>) => {
    setBusy(action);
    setActionError(undefined);
    try {
      await fn();
    } catch (error) {
      setActionError({ action, error });
    } finally {
      setBusy(undefined);
    }
  };
  const run = () =>
    act('Run pipeline', async () => {
      const r = await imagebuilder(session).send(new StartImagePipelineExecutionCommand({ imagePipelineArn: arn }));
      if (r.imageBuildVersionArn) navigate('images', r.imageBuildVersionArn);
    });
  const toggle = () =>
    act(p?.status === 'DISABLED' ? 'Enable' : 'Disable', async () => {
      await imagebuilder(session).send(new UpdateImagePipelineCommand(statusUpdate(p!, p?.status === 'DISABLED' ? 'ENABLED' : 'DISABLED')));
      loaded.reload();
      setRefresh((n) => n + 1);
    });

  return (
    <DetailFrame section="pipelines" sectionTitle="Image pipelines" heading={p?.name} loading={loaded.loading} error={loaded.error}>
      {p && (
        <>
          <p>
            <Status value={p.status} />
            {p.description ? ` · ${p.description}` : ''}
          </p>
          <div className="actions">
            <button type="button" className="primary" disabled={busy !== undefined} onClick={() => void run()}>
              {busy === 'Run pipeline' ? 'Starting…' : 'Run pipeline'}
            </button>
            <button type="button" disabled={busy !== undefined} onClick={() => void toggle()}>
              {p.status === 'DISABLED' ? 'Enable pipeline' : 'Disable pipeline'}
            </button>
            <button
              type="button"
              onClick={() => {
                loaded.reload();
                setRefresh((n) => n + 1);
              }}
            >
              Refresh
            </button>
          </div>
          {actionError && <ErrorNote error={actionError.error} action={actionError.action} self={arn} />}
          <section aria-labelledby="pipeline-settings-heading">
            <h2 id="pipeline-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Recipe', <ArnLink arn={p.imageRecipeArn ?? p.containerRecipeArn} />],
                ['Infrastructure configuration', <ArnLink arn={p.infrastructureConfigurationArn} />],
                ['Distribution configuration', p.distributionConfigurationArn ? <ArnLink arn={p.distributionConfigurationArn} /> : <span className="muted">none</span>],
                ['Schedule', <ScheduleText schedule={p.schedule} />],
                ['Next run', p.dateNextRun ? <DateText value={p.dateNextRun} /> : undefined],
                ['Last run', p.dateLastRun ? (<><DateText value={p.dateLastRun} /> <Status value={p.lastRunStatus} /></>) : <span className="muted">never</span>],
                ['Consecutive failures', p.consecutiveFailures ? String(p.consecutiveFailures) : undefined],
                ['Auto-disable after', p.schedule?.autoDisablePolicy?.failureCount ? `${p.schedule.autoDisablePolicy.failureCount} failed runs` : undefined],
                ['Platform', p.platform],
                ['Image tests', p.imageTestsConfiguration ? (p.imageTestsConfiguration.imageTestsEnabled === false ? 'off' : `on, timeout ${p.imageTestsConfiguration.timeoutMinutes ?? 720} minutes`) : undefined],
                ['Enhanced metadata', p.enhancedImageMetadataEnabled === undefined ? undefined : p.enhancedImageMetadataEnabled ? 'yes' : 'no'],
                ['Image scanning', p.imageScanningConfiguration ? <ValueView value={p.imageScanningConfiguration} /> : undefined],
                ['Workflows', p.workflows && p.workflows.length > 0 ? <ValueView value={p.workflows} /> : undefined],
                ['Execution role', p.executionRole],
                ['Image tags', tagsText(p.imageTags)],
                ['Tags', tagsText(p.tags)],
                ['Created', <DateText value={p.dateCreated} />],
                ['Updated', p.dateUpdated ? <DateText value={p.dateUpdated} /> : undefined],
                ['ARN', <code>{p.arn}</code>],
              ]}
            />
          </section>
          <PipelineHistory session={session} arn={arn} refresh={refresh} />
          <PipelineImages session={session} arn={arn} refresh={refresh} />
          <PipelineWebhook session={session} arn={arn} refresh={refresh} />
          <section aria-labelledby="pipeline-delete-heading">
            <h2 id="pipeline-delete-heading">Delete</h2>
            <DeleteAction
              what={`the image pipeline ${p.name ?? ''}`}
              arn={arn}
              remove={() => imagebuilder(session).send(new DeleteImagePipelineCommand({ imagePipelineArn: arn }))}
              onDeleted={() => navigate('pipelines')}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
