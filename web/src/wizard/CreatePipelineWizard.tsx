import { useEffect, useRef, useState, type FormEvent } from 'react';
import {
  CreateContainerRecipeCommand,
  CreateDistributionConfigurationCommand,
  CreateImagePipelineCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  UpdateDistributionConfigurationCommand,
  UpdateInfrastructureConfigurationCommand,
} from '@aws-sdk/client-imagebuilder';
import { errorText, imagebuilder } from '../api';
import { href, navigate } from '../router';
import type { PageProps } from '../page';
import { DetailsStep, detailsShows } from './DetailsStep';
import { DistributionStep, distributionShows } from './DistributionStep';
import { StepAlert } from './fields';
import { InfrastructureStep, infrastructureShows } from './InfrastructureStep';
import {
  DISTRIBUTION_RULES,
  firstStepWithErrors,
  INFRASTRUCTURE_RULES,
  isAlreadyExists,
  NO_ERRORS,
  PIPELINE_RULES,
  placeErrors,
  RECIPE_RULES,
  type StepErrors,
} from './issues';
import { initialDetails, initialDistribution, initialInfrastructure, initialRecipe, recipeKind, STEPS, type StepId } from './model';
import { RecipeStep, componentRules, recipeShows } from './RecipeStep';
import { distributionRequest, infrastructureRequest, pipelineRequest, recipeRequest } from './requests';
import { ReviewStep } from './ReviewStep';
import './wizard.css';

/** A resource the wizard created on Next: the request it was made from (to reuse it when nothing changed). */
interface Created {
  key: string;
  name: string;
  arn: string;
}

type Errors = Partial<Record<StepId, StepErrors>>;

const ORDER = STEPS.map((s) => s.id);

/**
 * The Create image pipeline wizard (`#/create-pipeline`): pipeline details and schedule, recipe, infrastructure,
 * distribution, review. A new recipe or configuration is created with the API when its step is left with Next;
 * "Create pipeline" calls CreateImagePipeline. Every problem is the API's, shown next to the field it names
 * (on the step that holds it); on success the pipeline's page opens.
 */
export function CreatePipelineWizard({ session }: PageProps) {
  const [index, setIndex] = useState(0);
  const [details, setDetails] = useState(initialDetails);
  const [recipe, setRecipe] = useState(initialRecipe);
  const [infrastructure, setInfrastructure] = useState(initialInfrastructure);
  const [distribution, setDistribution] = useState(() => initialDistribution(session.region));
  const [errors, setErrors] = useState<Errors>({});
  const [created, setCreated] = useState<{ recipe?: Created; infrastructure?: Created; distribution?: Created }>({});
  const [busy, setBusy] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const focusNext = useRef<'heading' | 'error' | undefined>(undefined);

  const step = STEPS[index]!;
  const kind = recipeKind(recipe);
  const client = imagebuilder(session);

  // After a step change or an answer with problems: focus the heading, or the first field the API named.
  useEffect(() => {
    const target = focusNext.current;
    focusNext.current = undefined;
    if (target === 'heading') heading.current?.focus();
    if (target === 'error') {
      const field = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
      const el = field?.tagName === 'FIELDSET' ? field.querySelector<HTMLElement>('input, select, textarea') : field;
      (el ?? form.current?.querySelector<HTMLElement>('[role="alert"]') ?? heading.current)?.focus();
    }
  }, [index, errors]);

  const goTo = (id: StepId, focus: 'heading' | 'error' = 'heading') => {
    focusNext.current = focus;
    setIndex(ORDER.indexOf(id));
  };

  const shows = (s: StepId, field: string) => {
    switch (s) {
      case 'details':
        return detailsShows(details, field);
      case 'recipe':
        return recipeShows(recipe, field);
      case 'infrastructure':
        return infrastructureShows(infrastructure, field);
      case 'distribution':
        return distributionShows(distribution, kind, field);
      default:
        return false;
    }
  };

  /** Shows an error of one step's API call on that step. */
  const fail = (stepId: StepId, placed: Errors) => {
    focusNext.current = 'error';
    setErrors({ [stepId]: placed[stepId] ?? NO_ERRORS });
  };

  const recipeArn = () => (recipe.mode === 'existing' ? recipe.existingArn : (created.recipe?.arn ?? ''));
  const infrastructureArn = () => (infrastructure.mode === 'existing' ? infrastructure.existingArn : (created.infrastructure?.arn ?? ''));
  const distributionArn = () => (distribution.mode === 'existing' ? distribution.existingArn : distribution.mode === 'new' ? created.distribution?.arn : undefined);

  /** Creates the new recipe unless the same one was already created; false when the API refused it. */
  const ensureRecipe = async (): Promise<boolean> => {
    const request = recipeRequest(recipe);
    const key = JSON.stringify(request);
    if (created.recipe?.key === key) return true;
    setBusy('Creating the recipe…');
    try {
      const out =
        request.kind === 'container'
          ? (await client.send(new CreateContainerRecipeCommand(request.input))).containerRecipeArn
          : (await client.send(new CreateImageRecipeCommand(request.input))).imageRecipeArn;
      setCreated((c) => ({ ...c, recipe: { key, name: request.input.name ?? '', arn: out ?? '' } }));
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) fail('recipe', { recipe: { fields: { 'recipe-version': [`${errorText(err)} — give the new recipe another version`] }, general: [] } });
      else fail('recipe', placeErrors(err, [...RECIPE_RULES, ...componentRules(recipe.components)], 'recipe', { visible: shows }));
      return false;
    } finally {
      setBusy(undefined);
    }
  };

  /** Creates the new infrastructure configuration, or updates the one this wizard created under the same name. */
  const ensureInfrastructure = async (): Promise<boolean> => {
    const request = infrastructureRequest(infrastructure);
    const key = JSON.stringify(request);
    const previous = created.infrastructure;
    if (previous?.key === key) return true;
    setBusy('Saving the infrastructure configuration…');
    try {
      let arn: string;
      if (previous && previous.name === request.name) {
        const { name: _name, ...update } = request;
        await client.send(new UpdateInfrastructureConfigurationCommand({ ...update, infrastructureConfigurationArn: previous.arn }));
        arn = previous.arn;
      } else {
        arn = (await client.send(new CreateInfrastructureConfigurationCommand(request))).infrastructureConfigurationArn ?? '';
      }
      setCreated((c) => ({ ...c, infrastructure: { key, name: request.name ?? '', arn } }));
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) fail('infrastructure', { infrastructure: { fields: { 'infra-name': [errorText(err)] }, general: [] } });
      else fail('infrastructure', placeErrors(err, INFRASTRUCTURE_RULES, 'infrastructure', { visible: shows }));
      return false;
    } finally {
      setBusy(undefined);
    }
  };

  /** Creates the new distribution configuration, or updates the one this wizard created under the same name. */
  const ensureDistribution = async (): Promise<boolean> => {
    const request = distributionRequest(distribution, recipe);
    const key = JSON.stringify(request);
    const previous = created.distribution;
    if (previous?.key === key) return true;
    setBusy('Saving the distribution configuration…');
    try {
      let arn: string;
      if (previous && previous.name === request.name) {
        await client.send(new UpdateDistributionConfigurationCommand({ distributionConfigurationArn: previous.arn, description: request.description, distributions: request.distributions }));
        arn = previous.arn;
      } else {
        arn = (await client.send(new CreateDistributionConfigurationCommand(request))).distributionConfigurationArn ?? '';
      }
      setCreated((c) => ({ ...c, distribution: { key, name: request.name ?? '', arn } }));
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) fail('distribution', { distribution: { fields: { 'dist-name': [errorText(err)] }, general: [] } });
      else fail('distribution', placeErrors(err, DISTRIBUTION_RULES, 'distribution', { visible: shows }));
      return false;
    } finally {
      setBusy(undefined);
    }
  };

  /** CreateImagePipeline; its problems take the user to the first step that holds a field it names. */
  const createPipeline = async () => {
    setBusy('Creating the pipeline…');
    try {
      const request = pipelineRequest(details, { recipe: recipeArn(), kind, infrastructure: infrastructureArn(), distribution: distributionArn() });
      const out = await client.send(new CreateImagePipelineCommand(request));
      navigate('pipelines', out.imagePipelineArn ?? '');
    } catch (err) {
      const placed: Errors = isAlreadyExists(err) ? { details: { fields: { 'pipeline-name': [errorText(err)] }, general: [] } } : placeErrors(err, PIPELINE_RULES, 'review', { visible: shows });
      const first = firstStepWithErrors(ORDER, placed) ?? 'review';
      // Say why the user is back on an earlier step.
      if (first !== 'review') placed[first]!.general.unshift('The pipeline was not created: correct the fields marked below, then go on to Review and create again.');
      setErrors(placed);
      goTo(first, 'error');
    } finally {
      setBusy(undefined);
    }
  };

  const next = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setErrors((all) => ({ ...all, [step.id]: undefined }));
    let ok = true;
    if (step.id === 'recipe' && recipe.mode === 'new') ok = await ensureRecipe();
    if (step.id === 'infrastructure' && infrastructure.mode === 'new') ok = await ensureInfrastructure();
    if (step.id === 'distribution' && distribution.mode === 'new') ok = await ensureDistribution();
    if (step.id === 'review') return createPipeline();
    if (ok) goTo(ORDER[index + 1]!);
  };

  const stepErrors = errors[step.id] ?? NO_ERRORS;
  const last = index === STEPS.length - 1;

  return (
    <div className="wizard">
      <h1>Create image pipeline</h1>
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => (
          <li key={s.id} aria-current={i === index ? 'step' : undefined}>
            <span className="step-number">{i + 1}.</span> {s.title}
            {errors[s.id] && i !== index && <span className="visually-hidden"> (has problems)</span>}
          </li>
        ))}
      </ol>
      <form ref={form} className="wizard-step" onSubmit={next} noValidate aria-labelledby="wizard-step-title">
        <h2 id="wizard-step-title" tabIndex={-1} ref={heading}>
          Step {index + 1} of {STEPS.length}: {step.title}
        </h2>
        <StepAlert errors={stepErrors} title={step.id === 'review' ? 'The pipeline was not created:' : 'The API answered:'} />
        {step.id === 'details' && <DetailsStep draft={details} onChange={setDetails} errors={stepErrors} />}
        {step.id === 'recipe' && <RecipeStep session={session} draft={recipe} onChange={setRecipe} errors={stepErrors} />}
        {step.id === 'infrastructure' && <InfrastructureStep session={session} draft={infrastructure} onChange={setInfrastructure} errors={stepErrors} />}
        {step.id === 'distribution' && <DistributionStep session={session} kind={kind} draft={distribution} onChange={setDistribution} errors={stepErrors} />}
        {step.id === 'review' && (
          <ReviewStep
            details={details}
            recipe={recipe}
            infrastructure={infrastructure}
            distribution={distribution}
            arns={{ recipe: recipeArn(), infrastructure: infrastructureArn(), distribution: distributionArn() }}
            onEdit={(id) => goTo(id)}
          />
        )}
        <p role="status" className="muted wizard-status">
          {busy ?? ''}
        </p>
        <div className="actions wizard-nav">
          <button type="button" onClick={() => goTo(ORDER[index - 1]!)} disabled={index === 0 || busy !== undefined}>
            Back
          </button>
          <button type="submit" className="primary" disabled={busy !== undefined}>
            {last ? 'Create pipeline' : 'Next'}
          </button>
          <a className="cancel" href={href('pipelines')}>
            Cancel
          </a>
        </div>
      </form>
    </div>
  );
}
