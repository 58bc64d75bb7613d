import { ListImagePipelineImagesCommand, type ImageSummary } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { ImageTable } from '../images/ImageTable';
import { PAGE_SIZE } from '../shared/PagedTable';

/** The images a pipeline built, newest first (ListImagePipelineImages). */
export function PipelineImages({ session, arn, refresh }: { session: Session; arn: string; refresh: number }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListImagePipelineImagesCommand({ imagePipelineArn: arn, maxResults: PAGE_SIZE, nextToken }));
    return { items: r.imageSummaryList ?? ([] as ImageSummary[]), nextToken: r.nextToken };
  };
  return (
    <section aria-labelledby="pipeline-images-heading">
      <h2 id="pipeline-images-heading">Images</h2>
      <ImageTable caption="Images this pipeline built, newest first" load={load} empty="This pipeline has not built an image yet." resetKey={`${arn} ${refresh}`} />
    </section>
  );
}
