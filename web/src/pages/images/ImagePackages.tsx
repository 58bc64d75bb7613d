import { ListImagePackagesCommand, type ImagePackage } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';

/** The packages installed in the image (ListImagePackages), page by page. */
export function ImagePackages({ session, arn, resetKey }: { session: Session; arn: string; resetKey: string }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListImagePackagesCommand({ imageBuildVersionArn: arn, maxResults: PAGE_SIZE, nextToken }));
    return { items: r.imagePackageList ?? ([] as ImagePackage[]), nextToken: r.nextToken };
  };
  return (
    <section aria-labelledby="image-packages-heading">
      <h2 id="image-packages-heading">Packages</h2>
      <PagedTable<ImagePackage>
        caption="Installed packages"
        load={load}
        resetKey={`${arn} ${resetKey}`}
        rowKey={(p) => `${p.packageName ?? ''} ${p.packageVersion ?? ''}`}
        empty="No package inventory (it is recorded when a build completes)."
        columns={[
          { header: 'Package', cell: (p) => p.packageName },
          { header: 'Version', cell: (p) => p.packageVersion },
        ]}
      />
    </section>
  );
}
