import { ListContainerRecipesCommand, ListImageRecipesCommand } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../api';
import type { Session } from '../session';
import { BaseImagePicker } from './BaseImagePicker';
import { ComponentsPicker } from './ComponentsPicker';
import { RadioGroup, SelectField, TextArea, TextField, type Option } from './fields';
import type { PathRule, StepErrors } from './issues';
import { OTHER_BASE, type ChosenComponent, type RecipeDraft } from './model';
import { sentParameters } from './requests';
import { allPages, useLoad } from './useLoad';

interface RecipeLists {
  container: Option[];
  image: Option[];
}

async function loadRecipes(session: Session): Promise<RecipeLists> {
  const client = imagebuilder(session);
  const [container, image] = await Promise.all([
    allPages(async (nextToken) => {
      const out = await client.send(new ListContainerRecipesCommand({ owner: 'Self', ...(nextToken ? { nextToken } : {}) }));
      return { items: out.containerRecipeSummaryList, nextToken: out.nextToken };
    }),
    allPages(async (nextToken) => {
      const out = await client.send(new ListImageRecipesCommand({ owner: 'Self', ...(nextToken ? { nextToken } : {}) }));
      return { items: out.imageRecipeSummaryList, nextToken: out.nextToken };
    }),
  ]);
  const option = (r: { arn?: string; name?: string }): Option => ({ value: r.arn ?? '', label: `${r.name ?? r.arn} ${r.arn?.split('/').pop() ?? ''}` });
  return { container: container.map(option), image: image.map(option) };
}

/** Picks an existing image or container recipe (yours), listed by ListContainerRecipes and ListImageRecipes. */
function ExistingRecipe({ session, draft, onChange, errors }: { session: Session; draft: RecipeDraft; onChange: (d: RecipeDraft) => void; errors: StepErrors }) {
  const lists = useLoad(() => loadRecipes(session), 'recipes');
  return (
    <SelectField
      id="recipe-existing"
      label="Existing recipe"
      value={draft.existingArn}
      onChange={(existingArn) => onChange({ ...draft, existingArn })}
      placeholder={lists.loading ? 'Loading recipes…' : 'Choose a recipe'}
      groups={[
        { label: 'Container recipes', options: lists.data?.container ?? [] },
        { label: 'Image recipes', options: lists.data?.image ?? [] },
      ]}
      errors={errors}
      required
      hint={lists.error ? `Recipes could not be listed: ${lists.error}` : undefined}
    />
  );
}

/** The fields of a new recipe; it is created with the API when the user presses Next. */
function NewRecipe({ session, draft, onChange, errors }: { session: Session; draft: RecipeDraft; onChange: (d: RecipeDraft) => void; errors: StepErrors }) {
  return (
    <>
      <RadioGroup
        id="recipe-kind"
        legend="Recipe type"
        name="recipe-kind"
        value={draft.kind}
        onChange={(kind) => onChange({ ...draft, kind, baseChoice: '', baseReference: draft.baseChoice === OTHER_BASE ? draft.baseReference : '' })}
        options={[
          { value: 'container', label: 'Container image (Docker)' },
          { value: 'image', label: 'Machine image (AMI)' },
        ]}
        errors={errors}
      />
      <TextField id="recipe-name" label="Recipe name" value={draft.name} onChange={(name) => onChange({ ...draft, name })} errors={errors} required />
      <TextField id="recipe-version" label="Version" value={draft.version} onChange={(version) => onChange({ ...draft, version })} errors={errors} required hint="major.minor.patch, e.g. 1.0.0" />
      <TextField id="recipe-description" label="Recipe description" value={draft.description} onChange={(description) => onChange({ ...draft, description })} errors={errors} spellCheck />
      <BaseImagePicker
        session={session}
        kind={draft.kind}
        choice={draft.baseChoice}
        reference={draft.baseReference}
        onChange={(baseChoice, baseReference) => onChange({ ...draft, baseChoice, baseReference })}
        errors={errors}
      />
      <ComponentsPicker session={session} value={draft.components} onChange={(components) => onChange({ ...draft, components })} errors={errors} />
      {draft.kind === 'container' && (
        <>
          <TextArea
            id="recipe-dockerfile"
            label="Dockerfile template"
            value={draft.dockerfile}
            onChange={(dockerfile) => onChange({ ...draft, dockerfile })}
            errors={errors}
            required
            hint={
              <>
                <code>{'{{{ imagebuilder:parentImage }}}'}</code> is the base image, <code>{'{{{ imagebuilder:components }}}'}</code> runs the components.
              </>
            }
          />
          <TextField
            id="recipe-repository"
            label="Target repository"
            value={draft.targetRepository}
            onChange={(targetRepository) => onChange({ ...draft, targetRepository })}
            errors={errors}
            required
            hint="The repository in Kiln's registry the image is pushed to, tagged with its version."
          />
        </>
      )}
    </>
  );
}

/**
 * Step 2, the recipe: an existing image or container recipe, or a new one (created with the API on Next, its
 * problems shown next to its fields).
 */
export function RecipeStep({ session, draft, onChange, errors }: { session: Session; draft: RecipeDraft; onChange: (d: RecipeDraft) => void; errors: StepErrors }) {
  return (
    <>
      <RadioGroup
        id="recipe-mode"
        legend="Recipe"
        name="recipe-mode"
        value={draft.mode}
        onChange={(mode) => onChange({ ...draft, mode })}
        options={[
          { value: 'existing', label: 'Use an existing recipe' },
          { value: 'new', label: 'Create a new recipe' },
        ]}
        errors={errors}
      />
      {draft.mode === 'existing' ? <ExistingRecipe session={session} draft={draft} onChange={onChange} errors={errors} /> : <NewRecipe session={session} draft={draft} onChange={onChange} errors={errors} />}
    </>
  );
}

/** Whether step 2 shows the input `field` now. */
export function recipeShows(draft: RecipeDraft, field: string): boolean {
  if (field === 'recipe-existing') return draft.mode === 'existing';
  if (field === 'recipe-mode') return true;
  if (draft.mode === 'existing') return false;
  if (field === 'recipe-dockerfile' || field === 'recipe-repository') return draft.kind === 'container';
  return true;
}

/** Where problems with `components[i]…` of a recipe request go: the i-th component's version or parameter. */
export function componentRules(components: ChosenComponent[]): PathRule[] {
  return components.flatMap((c, i) => [
    ...sentParameters(c).map((p, j): PathRule => ({ match: new RegExp(`^components\\[${i}\\]\\.parameters\\[${j}\\]`), step: 'recipe', field: `component-${c.key}-param-${p.name}` })),
    { match: new RegExp(`^components\\[${i}\\]`), step: 'recipe', field: `component-${c.key}-version` },
  ]);
}
