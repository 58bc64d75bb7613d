import { useState } from 'react';
import { CancelImageCreationCommand, DeleteImageCommand, RetryImageCommand } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { navigate } from '../../router';
import type { Session } from '../../session';
import { ArnLink } from '../shared/ArnLink';
import { DateText } from '../shared/DateText';
import { DeleteAction } from '../shared/DeleteAction';
import { DetailFrame } from '../shared/DetailFrame';
import { ErrorNote } from '../shared/ErrorNote';
import { Fields } from '../shared/Fields';
import { IMAGE_IN_PROGRESS } from '../shared/format';
import { tagsText } from '../shared/ValueView';
import { BuildPlan } from './BuildPlan';
import { ImageFindings } from './ImageFindings';
import { ImageOutputs } from './ImageOutputs';
import { ImagePackages } from './ImagePackages';
import { ImageSupplyChain } from './ImageSupplyChain';
import { ImageWorkflows } from './ImageWorkflows';
import { StepLogs } from './StepLogs';
import { useImage } from './useImage';
import { useWorkflowRuns } from './useWorkflowRuns';

/**
 * One image build version, live while it builds: its state (`data-testid="image-status"`), "Cancel build",
 * "Retry" for a FAILED image (RetryImage),
 * the build plan, outputs (`data-testid="image-uris"`), packages, workflows and tests, scan findings, SBOM downloads and
 * the signature check, and the
 * step logs following the running steps.
 */
export function ImageDetail({ session, arn }: { session: Session; arn: string }) {
  const { image, error, loading, live, changes, reload } = useImage(session, arn);
  const { runs, error: runsError } = useWorkflowRuns(session, arn, live, changes);
  const [busy, setBusy] = useState<string>();
  const [actionError, setActionError] = useState<{ action: string; error: unknown }>();
  const status = image?.state?.status ?? '';

  // Cancel and retry both change the state; the page reads it again (and follows the build while it is live).
  const act = async (action: string, send: () => Promise<unknown>) => {
    setBusy(action);
    setActionError(undefined);
    try {
      await send();
      reload();
    } catch (error) {
      setActionError({ action, error });
    } finally {
      setBusy(undefined);
    }
  };
  const cancel = () => act('Cancel build', () => imagebuilder(session).send(new CancelImageCreationCommand({ imageBuildVersionArn: arn })));
  const retry = () => act('Retry', () => imagebuilder(session).send(new RetryImageCommand({ imageBuildVersionArn: arn })));

  const recipe = image?.containerRecipe ?? image?.imageRecipe;
  return (
    <DetailFrame section="images" sectionTitle="Images" heading={image ? `Image ${image.name ?? ''} ${image.version ?? ''}` : undefined} loading={loading} error={error}>
      {image && (
        <>
          <div className="res-state" role="status">
            <p>
              Status:{' '}
              <span className={`status status-${status}`} data-testid="image-status">
                {status}
              </span>
              {live && <span className="muted"> (updating live)</span>}
            </p>
            {image.state?.reason && (
              <p className={status === 'FAILED' ? 'error' : 'muted'} data-testid="image-status-reason">
                {status === 'FAILED' ? 'Why it failed: ' : 'Reason: '}
                {image.state.reason}
              </p>
            )}
          </div>
          <div className="actions">
            {IMAGE_IN_PROGRESS.has(status) && (
              <button type="button" disabled={busy !== undefined} onClick={() => void cancel()}>
                {busy === 'Cancel build' ? 'Cancelling…' : 'Cancel build'}
              </button>
            )}
            {status === 'FAILED' && (
              <button type="button" disabled={busy !== undefined} onClick={() => void retry()} aria-describedby="image-retry-hint">
                {busy === 'Retry' ? 'Retrying…' : 'Retry'}
              </button>
            )}
          </div>
          {status === 'FAILED' && (
            <p className="muted" id="image-retry-hint">
              Retry (RetryImage) runs the distribution again, in place, for an image whose build and tests completed.
            </p>
          )}
          {actionError && <ErrorNote error={actionError.error} action={actionError.action} self={arn} />}
          <section aria-labelledby="image-about-heading">
            <h2 id="image-about-heading">About</h2>
            <Fields
              rows={[
                ['Type', image.type === 'DOCKER' ? 'container image' : image.type === 'AMI' ? 'machine image' : image.type],
                ['Recipe', recipe?.arn ? <ArnLink arn={recipe.arn} /> : undefined],
                ['Parent image', recipe?.parentImage],
                ['Pipeline', image.sourcePipelineArn ? <ArnLink arn={image.sourcePipelineArn} label={image.sourcePipelineName} /> : undefined],
                ['Infrastructure configuration', image.infrastructureConfiguration?.arn ? <ArnLink arn={image.infrastructureConfiguration.arn} /> : undefined],
                ['Distribution configuration', image.distributionConfiguration?.arn ? <ArnLink arn={image.distributionConfiguration.arn} /> : undefined],
                ['Platform', [image.platform, image.osVersion].filter(Boolean).join(' ')],
                ['Started by', image.buildType === 'SCHEDULED' ? 'the schedule' : image.buildType === 'USER_INITIATED' ? 'hand' : image.buildType],
                ['Tests', image.imageTestsConfiguration ? (image.imageTestsConfiguration.imageTestsEnabled === false ? 'off' : 'on') : undefined],
                ['Created', <DateText value={image.dateCreated} />],
                ['Tags', tagsText(image.tags)],
                ['ARN', <code>{image.arn}</code>],
              ]}
            />
          </section>
          <ImageOutputs image={image} />
          <BuildPlan session={session} arn={arn} resetKey={String(changes)} />
          <StepLogs session={session} arn={arn} runs={runs} live={live} />
          <ImageWorkflows runs={runs} error={runsError} />
          <ImagePackages session={session} arn={arn} resetKey={live ? 'live' : status} />
          <ImageFindings session={session} image={image} resetKey={live ? 'live' : status} />
          <ImageSupplyChain session={session} image={image} />
          <section aria-labelledby="image-delete-heading">
            <h2 id="image-delete-heading">Delete</h2>
            <DeleteAction
              what={`the image ${image.name ?? ''} ${image.version ?? ''}`}
              arn={arn}
              remove={() => imagebuilder(session).send(new DeleteImageCommand({ imageBuildVersionArn: arn }))}
              onDeleted={() => navigate('images')}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
