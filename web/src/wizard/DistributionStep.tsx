import { ListDistributionConfigurationsCommand } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../api';
import type { Session } from '../session';
import { CheckboxField, ExistingConfigField, FieldNotes, RadioGroup, SelectField, TextField } from './fields';
import type { StepErrors } from './issues';
import type { DistributionDraft, RecipeKind } from './model';
import { RegionsField } from './RegionsField';
import { allPages, useLoad } from './useLoad';

async function loadConfigurations(session: Session) {
  const client = imagebuilder(session);
  const list = await allPages(async (nextToken) => {
    const out = await client.send(new ListDistributionConfigurationsCommand(nextToken ? { nextToken } : {}));
    return { items: out.distributionConfigurationSummaryList, nextToken: out.nextToken };
  });
  return list.map((c) => ({ value: c.arn ?? '', label: `${c.name ?? c.arn}${c.regions?.length ? ` — ${c.regions.join(', ')}` : ''}` }));
}

type Props = { draft: DistributionDraft; onChange: (d: DistributionDraft) => void; errors: StepErrors };

function ContainerOutputs({ draft, onChange, errors }: Props) {
  return (
    <fieldset className="group">
      <legend>Container repository</legend>
      <TextField
        id="dist-container-repository"
        label="Container repository"
        value={draft.containerRepository}
        onChange={(containerRepository) => onChange({ ...draft, containerRepository })}
        errors={errors}
        hint="A repository in Kiln's registry, or host:port/repository for another registry Kiln is configured for."
      />
      <TextField
        id="dist-container-tags"
        label="Container tags"
        value={draft.containerTags}
        onChange={(containerTags) => onChange({ ...draft, containerTags })}
        errors={errors}
        placeholder="latest, stable"
        hint="Comma-separated."
      />
    </fieldset>
  );
}

function MachineOutputs({ draft, onChange, errors }: Props) {
  const set = (patch: Partial<DistributionDraft>) => onChange({ ...draft, ...patch });
  return (
    <>
      <fieldset className="group">
        <legend>Machine image (AMI)</legend>
        <TextField id="dist-ami-name" label="Output AMI name" value={draft.amiName} onChange={(amiName) => set({ amiName })} errors={errors} hint="{{ imagebuilder:buildDate }} makes each build's name unique." />
        <TextField id="dist-target-accounts" label="Target accounts" value={draft.targetAccounts} onChange={(targetAccounts) => set({ targetAccounts })} errors={errors} hint="Account ids that get their own copy, comma-separated." />
        <TextField id="dist-launch-users" label="Launch permission: account ids" value={draft.launchUserIds} onChange={(launchUserIds) => set({ launchUserIds })} errors={errors} hint="Accounts that may launch or build on the image, comma-separated." />
        <CheckboxField id="dist-launch-public" label="Anyone may launch it (public)" checked={draft.launchPublic} onChange={(launchPublic) => set({ launchPublic })} errors={errors} />
      </fieldset>
      <fieldset className="group">
        <legend>Export to S3</legend>
        <CheckboxField id="dist-export" label="Export the disk to an S3 bucket" checked={draft.exportEnabled} onChange={(exportEnabled) => set({ exportEnabled })} errors={errors} />
        {draft.exportEnabled && (
          <>
            <TextField id="dist-export-bucket" label="Export bucket" value={draft.exportBucket} onChange={(exportBucket) => set({ exportBucket })} errors={errors} required hint="A bucket Kiln's configuration maps to a directory (exportBuckets)." />
            <TextField id="dist-export-prefix" label="Export prefix" value={draft.exportPrefix} onChange={(exportPrefix) => set({ exportPrefix })} errors={errors} />
            <SelectField
              id="dist-export-format"
              label="Disk image format"
              value={draft.exportFormat}
              onChange={(exportFormat) => set({ exportFormat })}
              options={['RAW', 'VMDK', 'VHD'].map((f) => ({ value: f, label: f }))}
              errors={errors}
            />
            <TextField id="dist-export-role" label="Export role name" value={draft.exportRole} onChange={(exportRole) => set({ exportRole })} errors={errors} required />
          </>
        )}
      </fieldset>
    </>
  );
}

/** The fields of a new distribution configuration; it is created with the API when the user presses Next. */
function NewDistribution({ kind, ...props }: Props & { kind: RecipeKind }) {
  const { draft, onChange, errors } = props;
  return (
    <>
      <TextField id="dist-name" label="Distribution name" value={draft.name} onChange={(name) => onChange({ ...draft, name })} errors={errors} required />
      <TextField id="dist-description" label="Distribution description" value={draft.description} onChange={(description) => onChange({ ...draft, description })} errors={errors} spellCheck />
      <RegionsField id="dist-regions" value={draft.regions} onChange={(regions) => onChange({ ...draft, regions })} errors={errors} />
      <FieldNotes id="dist-outputs" errors={errors} />
      {kind === 'container' ? <ContainerOutputs {...props} /> : <MachineOutputs {...props} />}
    </>
  );
}

/**
 * Step 4, distribution (optional): none, an existing distribution configuration, or a new one (created with
 * the API on Next) whose outputs fit the recipe's kind: a container repository and tags, or machine images
 * with accounts, launch permissions and an S3 export.
 */
export function DistributionStep({ session, kind, draft, onChange, errors }: Props & { session: Session; kind: RecipeKind }) {
  const lists = useLoad(() => loadConfigurations(session), 'distribution');
  return (
    <>
      <RadioGroup
        id="dist-mode"
        legend="Distribution"
        name="dist-mode"
        value={draft.mode}
        onChange={(mode) => onChange({ ...draft, mode })}
        options={[
          { value: 'none', label: 'No distribution (the image stays where it is built)' },
          { value: 'existing', label: 'Use an existing distribution configuration' },
          { value: 'new', label: 'Create a new distribution configuration' },
        ]}
        errors={errors}
      />
      {draft.mode === 'existing' && (
        <ExistingConfigField id="dist-existing" label="Existing distribution configuration" value={draft.existingArn} onChange={(existingArn) => onChange({ ...draft, existingArn })} errors={errors} lists={lists} />
      )}
      {draft.mode === 'new' && <NewDistribution kind={kind} draft={draft} onChange={onChange} errors={errors} />}
    </>
  );
}

/** Whether step 4 shows the input `field` now (for a recipe of `kind`). */
export function distributionShows(draft: DistributionDraft, kind: RecipeKind, field: string): boolean {
  if (field === 'dist-mode') return true;
  if (field === 'dist-existing') return draft.mode === 'existing';
  if (draft.mode !== 'new') return false;
  if (field.startsWith('dist-container-')) return kind === 'container';
  if (field.startsWith('dist-ami-') || field.startsWith('dist-launch-') || field === 'dist-target-accounts') return kind === 'image';
  if (field.startsWith('dist-export-')) return kind === 'image' && draft.exportEnabled;
  return true;
}
