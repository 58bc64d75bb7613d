import { ListImageBuildVersionsCommand, type ImageSummary } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { PageHead } from '../shared/PageHead';
import { PAGE_SIZE } from '../shared/PagedTable';
import { ImageTable } from './ImageTable';
import { ManagedBasesPanel } from './ManagedBasesPanel';

/** Every image build of this account, newest first (ListImageBuildVersions without an image version). */
export function ImageList({ session }: { session: Session }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListImageBuildVersionsCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: r.imageSummaryList ?? ([] as ImageSummary[]), nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title="Images" />
      <ManagedBasesPanel session={session} />
      <ImageTable caption="Image builds of this account, newest first" load={load} empty="No images yet. Run a pipeline to build one." />
    </>
  );
}
