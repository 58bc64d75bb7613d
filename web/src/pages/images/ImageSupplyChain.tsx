import { useState } from 'react';
import type { Image } from '@aws-sdk/client-imagebuilder';
import { kilnBlob, kilnJson } from '../../api';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';

/** The SBOM formats `GET /kiln/images/sbom` answers, with the file suffix a download gets. */
const SBOM_FORMATS = [
  { format: 'spdx', label: 'SPDX 2.3', suffix: 'spdx.json' },
  { format: 'cyclonedx', label: 'CycloneDX 1.5', suffix: 'cdx.json' },
] as const;

/** What `GET /kiln/images/verify` answers, as far as the console reads it. */
interface Verification {
  kind: 'container' | 'machine';
  verdict: { ok: boolean; line: string };
}

/**
 * The image's supply chain: its SBOM to download in either format, and its signatures (sigstore signatures
 * beside a container image in Kiln's registry, a machine image's detached disk signature) checked on request,
 * since checking a machine image hashes its whole disk again.
 */
export function ImageSupplyChain({ session, image }: { session: Session; image: Image }) {
  const arn = image.arn ?? '';
  const [error, setError] = useState<{ action: string; error: unknown }>();
  const [busy, setBusy] = useState<string>();
  const [verification, setVerification] = useState<Verification>();
  const available = image.state?.status === 'AVAILABLE';

  const download = async (format: (typeof SBOM_FORMATS)[number]) => {
    setBusy(format.format);
    setError(undefined);
    try {
      const url = URL.createObjectURL(await kilnBlob(session, { path: '/kiln/images/sbom', query: { image: arn, format: format.format } }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${image.name ?? 'image'}-${(image.version ?? '').replace(/\//g, '-')}.${format.suffix}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError({ action: `Downloading the ${format.label} SBOM`, error: err });
    } finally {
      setBusy(undefined);
    }
  };

  const verify = async () => {
    setBusy('verify');
    setError(undefined);
    try {
      setVerification(await kilnJson<Verification>(session, { path: '/kiln/images/verify', query: { image: arn } }));
    } catch (err) {
      setError({ action: 'Checking the signatures', error: err });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="image-supply-chain-heading">
      <h2 id="image-supply-chain-heading">SBOM and signatures</h2>
      {!available && <p className="muted">The SBOM and the signatures exist once the image is AVAILABLE.</p>}
      <div className="actions">
        {SBOM_FORMATS.map((f) => (
          <button key={f.format} type="button" disabled={!available || busy !== undefined} onClick={() => void download(f)}>
            {busy === f.format ? 'Preparing…' : `Download SBOM (${f.label})`}
          </button>
        ))}
        <button type="button" disabled={!available || busy !== undefined} onClick={() => void verify()}>
          {busy === 'verify' ? 'Checking…' : 'Check signatures'}
        </button>
      </div>
      <p className="muted">
        {image.type === 'AMI'
          ? 'Machine images carry a signature over their disk digest by the account’s key; the check hashes the stored disk again.'
          : 'Container images are signed in the sigstore format beside every place they are distributed to; skopeo, podman and cosign verify them with the account’s public key (kiln accounts signing-key).'}
      </p>
      {verification && (
        <p className={verification.verdict.ok ? 'status-AVAILABLE' : 'error'} data-testid="signature-verdict" role="status">
          {verification.verdict.ok ? 'Signed: ' : 'Not verified: '}
          {verification.verdict.line}
        </p>
      )}
      {error && <ErrorNote error={error.error} action={error.action} self={arn} />}
    </section>
  );
}
