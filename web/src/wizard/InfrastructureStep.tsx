import { ListInfrastructureConfigurationsCommand } from '@aws-sdk/client-imagebuilder';
import { INSTANCE_TYPES } from '../../../src/domain/instance-types';
import { imagebuilder } from '../api';
import type { Session } from '../session';
import { CheckboxField, describedBy, ExistingConfigField, FieldNotes, RadioGroup, SelectField, TextField } from './fields';
import type { StepErrors } from './issues';
import type { InfrastructureDraft } from './model';
import { allPages, useLoad } from './useLoad';

async function loadConfigurations(session: Session) {
  const client = imagebuilder(session);
  const list = await allPages(async (nextToken) => {
    const out = await client.send(new ListInfrastructureConfigurationsCommand(nextToken ? { nextToken } : {}));
    return { items: out.infrastructureConfigurationSummaryList, nextToken: out.nextToken };
  });
  return list.map((c) => ({ value: c.arn ?? '', label: `${c.name ?? c.arn}${c.instanceTypes?.length ? ` — ${c.instanceTypes.join(', ')}` : ''}` }));
}

const DRIVER = { ns: 'namespace sandbox', vm: 'virtual machine' } as const;

/** Kiln's instance types as checkboxes (the first ticked one builds), with more types as text. */
function InstanceTypes({ draft, onChange, errors }: { draft: InfrastructureDraft; onChange: (d: InfrastructureDraft) => void; errors: StepErrors }) {
  const described = describedBy('infra-types', errors, true);
  const toggle = (name: string, on: boolean) => onChange({ ...draft, instanceTypes: on ? [...draft.instanceTypes, name] : draft.instanceTypes.filter((t) => t !== name) });
  return (
    <fieldset className="choices" id="infra-types" aria-invalid={described['aria-invalid']} aria-describedby={described['aria-describedby']}>
      <legend>Instance types</legend>
      <div className="type-grid">
        {INSTANCE_TYPES.map((t) => (
          <label key={t.name} className="check">
            <input type="checkbox" checked={draft.instanceTypes.includes(t.name)} onChange={(e) => toggle(t.name, e.target.checked)} />
            <span>
              {t.name} <span className="muted">({DRIVER[t.driver]}, {t.vcpus} vCPU, {t.memoryMiB / 1024} GiB)</span>
            </span>
          </label>
        ))}
      </div>
      <div className="field">
        <label htmlFor="infra-other-types">Other instance types</label>
        <input id="infra-other-types" value={draft.otherInstanceTypes} autoComplete="off" spellCheck={false} onChange={(e) => onChange({ ...draft, otherInstanceTypes: e.target.value })} placeholder="t3.micro, m5.large" />
      </div>
      <FieldNotes id="infra-types" errors={errors} hint="The first type listed runs the build: ns.* in a sandbox on this host, vm.* in a virtual machine (machine images only). EC2 names map to the nearest Kiln type." />
    </fieldset>
  );
}

/** The fields of a new infrastructure configuration; it is created with the API when the user presses Next. */
function NewInfrastructure({ draft, onChange, errors }: { draft: InfrastructureDraft; onChange: (d: InfrastructureDraft) => void; errors: StepErrors }) {
  const set = (patch: Partial<InfrastructureDraft>) => onChange({ ...draft, ...patch });
  return (
    <>
      <TextField id="infra-name" label="Infrastructure name" value={draft.name} onChange={(name) => set({ name })} errors={errors} required />
      <TextField id="infra-description" label="Infrastructure description" value={draft.description} onChange={(description) => set({ description })} errors={errors} spellCheck />
      <InstanceTypes draft={draft} onChange={onChange} errors={errors} />
      <TextField id="infra-profile" label="Instance profile name" value={draft.instanceProfileName} onChange={(instanceProfileName) => set({ instanceProfileName })} errors={errors} required hint="Recorded as on AWS; Kiln has no IAM." />
      <SelectField
        id="infra-subnet"
        label="Subnet"
        value={draft.subnet}
        onChange={(v) => set({ subnet: v as InfrastructureDraft['subnet'] })}
        options={[
          { value: 'default', label: 'Default network (outbound through user-mode NAT)' },
          { value: 'none', label: 'none — no network at all' },
          { value: 'other', label: 'A subnet id' },
        ]}
        errors={draft.subnet === 'other' ? { fields: {}, general: [] } : errors}
      />
      {draft.subnet === 'other' && (
        <TextField id="infra-subnet-id" label="Subnet id" value={draft.subnetId} onChange={(subnetId) => set({ subnetId })} errors={{ fields: { 'infra-subnet-id': errors.fields['infra-subnet'] ?? [] }, general: [] }} />
      )}
      <fieldset className="group">
        <legend>Logging</legend>
        <TextField id="infra-log-bucket" label="S3 bucket for logs" value={draft.logBucket} onChange={(logBucket) => set({ logBucket })} errors={errors} />
        <TextField id="infra-log-prefix" label="S3 key prefix" value={draft.logPrefix} onChange={(logPrefix) => set({ logPrefix })} errors={errors} />
      </fieldset>
      <CheckboxField
        id="infra-keep"
        label="Keep the instance when a build fails"
        checked={draft.keepOnFailure}
        onChange={(keepOnFailure) => set({ keepOnFailure })}
        errors={errors}
        hint="For debugging: kiln instances ls / shell / rm."
      />
      <TextField
        id="infra-topic"
        label="Notification topic"
        value={draft.snsTopicArn}
        onChange={(snsTopicArn) => set({ snsTopicArn })}
        errors={errors}
        placeholder="arn:aws:sns:local:123456789012:image-builds"
        hint="An SNS topic ARN; Kiln's configuration maps it to webhook URLs."
      />
    </>
  );
}

/** Step 3, the infrastructure configuration: an existing one, or a new one created with the API on Next. */
export function InfrastructureStep({ session, draft, onChange, errors }: { session: Session; draft: InfrastructureDraft; onChange: (d: InfrastructureDraft) => void; errors: StepErrors }) {
  const lists = useLoad(() => loadConfigurations(session), 'infrastructure');
  return (
    <>
      <RadioGroup
        id="infra-mode"
        legend="Infrastructure configuration"
        name="infra-mode"
        value={draft.mode}
        onChange={(mode) => onChange({ ...draft, mode })}
        options={[
          { value: 'existing', label: 'Use an existing infrastructure configuration' },
          { value: 'new', label: 'Create a new infrastructure configuration' },
        ]}
        errors={errors}
      />
      {draft.mode === 'existing' ? (
        <ExistingConfigField id="infra-existing" label="Existing infrastructure configuration" value={draft.existingArn} onChange={(existingArn) => onChange({ ...draft, existingArn })} errors={errors} lists={lists} />
      ) : (
        <NewInfrastructure draft={draft} onChange={onChange} errors={errors} />
      )}
    </>
  );
}

/** Whether step 3 shows the input `field` now. */
export function infrastructureShows(draft: InfrastructureDraft, field: string): boolean {
  if (field === 'infra-mode') return true;
  if (field === 'infra-existing') return draft.mode === 'existing';
  return draft.mode === 'new';
}
