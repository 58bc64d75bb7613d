import { ListContainerRecipesCommand, ListImageRecipesCommand } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { href } from '../../router';
import type { Session } from '../../session';
import { DateText } from '../shared/DateText';
import { parseArn } from '../shared/format';
import { PageHead } from '../shared/PageHead';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';

export type RecipeKind = 'image' | 'container';

/** The fields both recipe summaries have. */
interface RecipeRow {
  arn?: string | undefined;
  name?: string | undefined;
  platform?: string | undefined;
  owner?: string | undefined;
  parentImage?: string | undefined;
  dateCreated?: string | undefined;
  containerType?: string | undefined;
}

export const RECIPE_SECTION: Record<RecipeKind, { section: string; title: string; noun: string }> = {
  image: { section: 'image-recipes', title: 'Image recipes', noun: 'image recipe' },
  container: { section: 'container-recipes', title: 'Container recipes', noun: 'container recipe' },
};

/** Image or container recipes of this account: name, version, parent image, platform, created. */
export function RecipeList({ session, kind }: { session: Session; kind: RecipeKind }) {
  const { section, title } = RECIPE_SECTION[kind];
  const load = async (nextToken: string | undefined) => {
    const client = imagebuilder(session);
    if (kind === 'image') {
      const r = await client.send(new ListImageRecipesCommand({ maxResults: PAGE_SIZE, nextToken }));
      return { items: (r.imageRecipeSummaryList ?? []) as RecipeRow[], nextToken: r.nextToken };
    }
    const r = await client.send(new ListContainerRecipesCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: (r.containerRecipeSummaryList ?? []) as RecipeRow[], nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title={title} />
      <PagedTable<RecipeRow>
        caption={`${title} of this account`}
        load={load}
        resetKey={kind}
        rowKey={(r) => r.arn ?? ''}
        empty={`No ${title.toLowerCase()} yet. The Create image pipeline wizard can make one.`}
        columns={[
          { header: 'Name', cell: (r) => <a href={href(section, r.arn)}>{r.name}</a> },
          { header: 'Version', cell: (r) => parseArn(r.arn)?.version },
          ...(kind === 'container' ? [{ header: 'Type', cell: (r: RecipeRow) => r.containerType }] : []),
          { header: 'Parent image', cell: (r) => <code>{r.parentImage}</code> },
          { header: 'Platform', cell: (r) => r.platform },
          { header: 'Created', cell: (r) => <DateText value={r.dateCreated} /> },
        ]}
      />
    </>
  );
}
