import type { ReactNode } from 'react';
import { FREQUENCIES } from './cron';
import { START_DEPENDENCIES, type DetailsDraft, type DistributionDraft, type InfrastructureDraft, type RecipeDraft, type StepId } from './model';
import { componentArn, instanceTypes, parentImage, sentParameters } from './requests';

export interface ReviewProps {
  details: DetailsDraft;
  recipe: RecipeDraft;
  infrastructure: InfrastructureDraft;
  distribution: DistributionDraft;
  /** ARNs in use: chosen, or created on Next. */
  arns: { recipe: string; infrastructure: string; distribution?: string };
  onEdit: (step: StepId) => void;
}

function Section({ title, step, onEdit, children }: { title: string; step: StepId; onEdit: (s: StepId) => void; children: ReactNode }) {
  return (
    <section className="panel review" aria-label={title}>
      <div className="review-head">
        <h3>{title}</h3>
        <button type="button" onClick={() => onEdit(step)} aria-label={`Edit ${title.toLowerCase()}`}>
          Edit
        </button>
      </div>
      <dl>{children}</dl>
    </section>
  );
}

function Row({ term, children }: { term: string; children: ReactNode }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children === '' || children === undefined ? <span className="muted">—</span> : children}</dd>
    </>
  );
}

/** Step 5: everything the pipeline will be made of, each part with a way back to its step. */
export function ReviewStep({ details, recipe, infrastructure, distribution, arns, onEdit }: ReviewProps) {
  const manual = details.schedule.frequency === 'manual';
  return (
    <div className="review-grid">
      <Section title="Pipeline details" step="details" onEdit={onEdit}>
        <Row term="Pipeline name">{details.name}</Row>
        <Row term="Description">{details.description}</Row>
        <Row term="Schedule">{manual ? 'Manual only' : <code>{details.expression}</code>}</Row>
        {!manual && <Row term="Frequency">{FREQUENCIES.find((f) => f.value === details.schedule.frequency)?.label}</Row>}
        {!manual && <Row term="Time zone">{details.timezone}</Row>}
        {!manual && <Row term="Start condition">{details.startCondition === START_DEPENDENCIES ? 'Only when dependencies changed' : 'On every run'}</Row>}
        <Row term="Enhanced metadata">{details.enhancedMetadata ? 'On' : 'Off'}</Row>
        <Row term="Image tests">{details.imageTests ? `On${details.testTimeout ? `, ${details.testTimeout} minutes` : ''}` : 'Off'}</Row>
      </Section>
      <Section title="Recipe" step="recipe" onEdit={onEdit}>
        <Row term="Recipe">
          <code>{arns.recipe}</code>
        </Row>
        {recipe.mode === 'new' && (
          <>
            <Row term="Type">{recipe.kind === 'container' ? 'Container image' : 'Machine image'}</Row>
            <Row term="Base image">
              <code>{parentImage(recipe)}</code>
            </Row>
            <Row term="Components">
              <ul className="plain">
                {recipe.components.map((c) => (
                  <li key={c.key}>
                    <code>{componentArn(c)}</code>
                    {sentParameters(c).map((p) => (
                      <span key={p.name} className="muted">
                        {' '}
                        {p.name}={p.value.join(',')}
                      </span>
                    ))}
                  </li>
                ))}
              </ul>
            </Row>
            {recipe.kind === 'container' && <Row term="Target repository">{recipe.targetRepository}</Row>}
          </>
        )}
      </Section>
      <Section title="Infrastructure configuration" step="infrastructure" onEdit={onEdit}>
        <Row term="Configuration">
          <code>{arns.infrastructure}</code>
        </Row>
        {infrastructure.mode === 'new' && (
          <>
            <Row term="Instance types">{instanceTypes(infrastructure).join(', ')}</Row>
            <Row term="Network">{infrastructure.subnet === 'none' ? 'None' : infrastructure.subnet === 'other' ? infrastructure.subnetId : 'Default'}</Row>
            <Row term="Keep instance on failure">{infrastructure.keepOnFailure ? 'Yes' : 'No'}</Row>
            <Row term="Notification topic">{infrastructure.snsTopicArn}</Row>
          </>
        )}
      </Section>
      <Section title="Distribution" step="distribution" onEdit={onEdit}>
        <Row term="Configuration">{arns.distribution ? <code>{arns.distribution}</code> : 'None'}</Row>
        {distribution.mode === 'new' && (
          <>
            <Row term="Regions">{distribution.regions.join(', ')}</Row>
            {distribution.containerRepository && <Row term="Container repository">{distribution.containerRepository}</Row>}
            {distribution.containerTags && <Row term="Container tags">{distribution.containerTags}</Row>}
          </>
        )}
      </Section>
    </div>
  );
}
