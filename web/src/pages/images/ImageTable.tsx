import type { ImageSummary } from '@aws-sdk/client-imagebuilder';
import { href } from '../../router';
import { DateText } from '../shared/DateText';
import { PagedTable, type PageOf } from '../shared/PagedTable';
import { Status } from '../shared/Status';

/** Image build versions as a paged table: name and version (linked), type, status, build type, created. */
export function ImageTable({ caption, load, empty, resetKey }: { caption: string; load: (nextToken: string | undefined) => Promise<PageOf<ImageSummary>>; empty: string; resetKey?: string }) {
  return (
    <PagedTable<ImageSummary>
      caption={caption}
      load={load}
      rowKey={(i) => i.arn ?? ''}
      empty={empty}
      {...(resetKey === undefined ? {} : { resetKey })}
      columns={[
        { header: 'Image', cell: (i) => <a href={href('images', i.arn)}>{`${i.name ?? ''} ${i.version ?? ''}`}</a> },
        { header: 'Type', cell: (i) => (i.type === 'DOCKER' ? 'container' : i.type === 'AMI' ? 'machine image' : i.type) },
        { header: 'Status', cell: (i) => <Status value={i.state?.status} /> },
        { header: 'Platform', cell: (i) => i.platform },
        { header: 'Started by', cell: (i) => (i.buildType === 'SCHEDULED' ? 'schedule' : i.buildType === 'USER_INITIATED' ? 'hand' : i.buildType) },
        { header: 'Created', cell: (i) => <DateText value={i.dateCreated} /> },
      ]}
    />
  );
}
