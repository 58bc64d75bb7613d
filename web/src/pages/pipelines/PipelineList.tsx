import { ListImagePipelinesCommand, type ImagePipeline } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { href } from '../../router';
import type { Session } from '../../session';
import { ArnLink } from '../shared/ArnLink';
import { DateText } from '../shared/DateText';
import { PageHead } from '../shared/PageHead';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';
import { Status } from '../shared/Status';
import { ScheduleText } from './ScheduleText';

/** Image pipelines: status, schedule, next and last run, and the way to the Create image pipeline wizard. */
export function PipelineList({ session }: { session: Session }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListImagePipelinesCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: r.imagePipelineList ?? [], nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title="Image pipelines">
        <a className="res-button primary" href={href('create-pipeline')}>
          Create image pipeline
        </a>
      </PageHead>
      <PagedTable<ImagePipeline>
        caption="Image pipelines of this account"
        load={load}
        rowKey={(p) => p.arn ?? ''}
        empty="No image pipelines yet. Create one to build images on a schedule."
        columns={[
          { header: 'Name', cell: (p) => <a href={href('pipelines', p.arn)}>{p.name}</a> },
          { header: 'Status', cell: (p) => <Status value={p.status} /> },
          { header: 'Recipe', cell: (p) => <ArnLink arn={p.imageRecipeArn ?? p.containerRecipeArn} /> },
          { header: 'Schedule', cell: (p) => <ScheduleText schedule={p.schedule} /> },
          { header: 'Next run', cell: (p) => <DateText value={p.dateNextRun} /> },
          {
            header: 'Last run',
            cell: (p) =>
              p.dateLastRun ? (
                <>
                  <DateText value={p.dateLastRun} /> <Status value={p.lastRunStatus} />
                </>
              ) : (
                <span className="muted">never</span>
              ),
          },
          { header: 'Created', cell: (p) => <DateText value={p.dateCreated} /> },
        ]}
      />
    </>
  );
}
