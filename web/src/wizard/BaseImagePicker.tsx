import { ListImagesCommand, type ImageVersion } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../api';
import type { Session } from '../session';
import { SelectField, TextField, type Option } from './fields';
import type { StepErrors } from './issues';
import { OTHER_BASE, type RecipeKind } from './model';
import { allPages, useLoad } from './useLoad';

async function listImages(session: Session, owner: 'Self' | 'Amazon'): Promise<ImageVersion[]> {
  const client = imagebuilder(session);
  return allPages(async (nextToken) => {
    const out = await client.send(new ListImagesCommand({ owner, ...(nextToken ? { nextToken } : {}) }));
    return { items: out.imageVersionList, nextToken: out.nextToken };
  });
}

const nameArn = (arn: string) => arn.replace(/\/[^/]+$/, '');

/** Picker options: per image name its newest (`x.x.x`) and, for your own images, each version. */
function options(images: ImageVersion[], type: string, versions: boolean): Option[] {
  const out: Option[] = [];
  const seen = new Set<string>();
  for (const i of images) {
    if (!i.arn || i.type !== type) continue;
    const base = nameArn(i.arn);
    if (!seen.has(base)) {
      seen.add(base);
      out.push({ value: `${base}/x.x.x`, label: `${i.name ?? base} (newest)${i.osVersion ? ` — ${i.osVersion}` : ''}` });
    }
    if (versions) out.push({ value: i.arn, label: `${i.name ?? base} ${i.version ?? ''}` });
  }
  return out;
}

/**
 * The base (parent) image of a new recipe: Kiln-managed bases (ListImages owner Amazon) and your images of the
 * recipe's kind, or another image by reference — a registry reference for containers, an AMI id, SSM parameter
 * or image ARN for machine images.
 */
export function BaseImagePicker({
  session,
  kind,
  choice,
  reference,
  onChange,
  errors,
}: {
  session: Session;
  kind: RecipeKind;
  choice: string;
  reference: string;
  onChange: (choice: string, reference: string) => void;
  errors: StepErrors;
}) {
  const managed = useLoad(() => listImages(session, 'Amazon'), 'images-Amazon');
  const own = useLoad(() => listImages(session, 'Self'), 'images-Self');
  const type = kind === 'container' ? 'DOCKER' : 'AMI';
  const other = kind === 'container' ? 'Another image: a registry reference' : 'Another image: an AMI id, SSM parameter or image ARN';
  const error = managed.error ?? own.error;
  return (
    <>
      <SelectField
        id="recipe-base"
        label="Base image"
        value={choice}
        onChange={(v) => onChange(v, reference)}
        placeholder={managed.loading || own.loading ? 'Loading images…' : 'Choose a base image'}
        groups={[
          { label: 'Kiln-managed', options: options(managed.data ?? [], type, false) },
          { label: 'Your images', options: options(own.data ?? [], type, true) },
          { label: 'Other', options: [{ value: OTHER_BASE, label: other }] },
        ]}
        errors={choice === OTHER_BASE ? { fields: {}, general: [] } : errors}
        required
        hint={error ? `Images could not be listed: ${error}` : 'A wildcard version (x.x.x) builds on the newest image each run.'}
      />
      {choice === OTHER_BASE && (
        <TextField
          id="recipe-base-reference"
          label="Base image reference"
          value={reference}
          onChange={(v) => onChange(choice, v)}
          errors={{ fields: { 'recipe-base-reference': errors.fields['recipe-base'] ?? [] }, general: [] }}
          required
          placeholder={kind === 'container' ? 'registry.example:5000/team/base:1' : 'ami-0123456789abcdef0'}
        />
      )}
    </>
  );
}
