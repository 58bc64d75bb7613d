import type { Image } from '@aws-sdk/client-imagebuilder';

/**
 * What the build produced: container image URIs or AMIs, one per list item in `data-testid="image-uris"` (the
 * element is there, empty, before the build distributes anything).
 */
export function ImageOutputs({ image }: { image: Image }) {
  const uris = (image.outputResources?.containers ?? []).flatMap((c) => (c.imageUris ?? []).map((uri) => ({ uri, region: c.region })));
  const amis = image.outputResources?.amis ?? [];
  const none = uris.length === 0 && amis.length === 0;
  return (
    <section aria-labelledby="image-outputs-heading">
      <h2 id="image-outputs-heading">Outputs</h2>
      <ul className="res-uris" data-testid="image-uris" aria-label={uris.length > 0 ? 'Image URIs' : 'Machine images'}>
        {uris.map((u) => (
          <li key={u.uri}>
            <code>{u.uri}</code>
          </li>
        ))}
        {amis.map((a) => (
          <li key={`${a.region ?? ''} ${a.image ?? ''}`}>
            <code>{a.image}</code>
            {a.region || a.name ? <span className="muted"> ({[a.region, a.name].filter(Boolean).join(', ')})</span> : null}
          </li>
        ))}
      </ul>
      {none && <p className="muted">No outputs yet: they appear when the build is distributed.</p>}
    </section>
  );
}
