import { useState } from 'react';
import { ListComponentsCommand, type ComponentVersion } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { href } from '../../router';
import type { Session } from '../../session';
import { DateText } from '../shared/DateText';
import { OwnerSwitch, type Owner } from '../shared/OwnerSwitch';
import { PageHead } from '../shared/PageHead';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';
import { Status } from '../shared/Status';

/** Components by owner (mine, shared with me, Amazon's), with the way to write a new one. */
export function ComponentList({ session }: { session: Session }) {
  const [owner, setOwner] = useState<Owner>('Self');
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListComponentsCommand({ owner, maxResults: PAGE_SIZE, nextToken }));
    return { items: r.componentVersionList ?? ([] as ComponentVersion[]), nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title="Components">
        <a className="res-button primary" href={href('new-component')}>
          New component
        </a>
      </PageHead>
      <OwnerSwitch value={owner} onChange={setOwner} />
      <PagedTable<ComponentVersion>
        caption={owner === 'Self' ? 'Components you own' : owner === 'Shared' ? 'Components shared with you' : 'Amazon managed components'}
        load={load}
        resetKey={owner}
        rowKey={(c) => c.arn ?? ''}
        empty={owner === 'Self' ? 'You have no components yet.' : 'None.'}
        columns={[
          { header: 'Name', cell: (c) => <a href={href('components', c.arn)}>{c.name}</a> },
          { header: 'Version', cell: (c) => c.version },
          { header: 'Type', cell: (c) => c.type },
          { header: 'Platform', cell: (c) => c.platform },
          { header: 'Status', cell: (c) => <Status value={c.status} /> },
          { header: 'Description', cell: (c) => c.description },
          { header: 'Created', cell: (c) => <DateText value={c.dateCreated} /> },
        ]}
      />
    </>
  );
}
