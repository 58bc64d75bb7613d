import { DeleteContainerRecipeCommand, DeleteImageRecipeCommand, GetContainerRecipeCommand, GetImageRecipeCommand, type ContainerRecipe, type ImageRecipe } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { navigate } from '../../router';
import type { Session } from '../../session';
import { DateText } from '../shared/DateText';
import { DeleteAction } from '../shared/DeleteAction';
import { DetailFrame } from '../shared/DetailFrame';
import { Fields, type FieldRow } from '../shared/Fields';
import { useLoad } from '../shared/useLoad';
import { tagsText, ValueView } from '../shared/ValueView';
import { RecipeComponents } from './RecipeComponents';
import { RECIPE_SECTION, type RecipeKind } from './RecipeList';

type Recipe = { kind: 'image'; recipe: ImageRecipe } | { kind: 'container'; recipe: ContainerRecipe };

/** One image or container recipe: parent image, components with versions and parameters, and the rest of its settings. */
export function RecipeDetail({ session, kind, arn }: { session: Session; kind: RecipeKind; arn: string }) {
  const { section, title, noun } = RECIPE_SECTION[kind];
  const loaded = useLoad(async (): Promise<Recipe | undefined> => {
    const client = imagebuilder(session);
    if (kind === 'image') {
      const r = (await client.send(new GetImageRecipeCommand({ imageRecipeArn: arn }))).imageRecipe;
      return r && { kind, recipe: r };
    }
    const r = (await client.send(new GetContainerRecipeCommand({ containerRecipeArn: arn }))).containerRecipe;
    return r && { kind, recipe: r };
  }, `${kind} ${arn}`);
  const d = loaded.data;
  const r = d?.recipe;
  const heading = r ? `${noun.charAt(0).toUpperCase()}${noun.slice(1)} ${r.name ?? ''} ${r.version ?? ''}` : undefined;
  const remove = () =>
    kind === 'image'
      ? imagebuilder(session).send(new DeleteImageRecipeCommand({ imageRecipeArn: arn }))
      : imagebuilder(session).send(new DeleteContainerRecipeCommand({ containerRecipeArn: arn }));

  return (
    <DetailFrame section={section} sectionTitle={title} heading={heading} loading={loaded.loading} error={loaded.error}>
      {d && r && (
        <>
          <section aria-labelledby="recipe-settings-heading">
            <h2 id="recipe-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Description', r.description],
                ['Parent image', <code>{r.parentImage}</code>],
                ['Platform', r.platform],
                ...(d.kind === 'container'
                  ? ([
                      ['Container type', d.recipe.containerType],
                      ['Target repository', d.recipe.targetRepository ? `${d.recipe.targetRepository.repositoryName ?? ''} (${d.recipe.targetRepository.service ?? ''})` : undefined],
                      ['Instance configuration', d.recipe.instanceConfiguration ? <ValueView value={d.recipe.instanceConfiguration} /> : undefined],
                      ['KMS key', d.recipe.kmsKeyId],
                    ] as FieldRow[])
                  : ([
                      ['Block device mappings', d.recipe.blockDeviceMappings?.length ? <ValueView value={d.recipe.blockDeviceMappings} /> : undefined],
                      ['Additional instance configuration', d.recipe.additionalInstanceConfiguration ? <ValueView value={d.recipe.additionalInstanceConfiguration} /> : undefined],
                      ['AMI tags', tagsText(d.recipe.amiTags)],
                    ] as FieldRow[])),
                ['Working directory', r.workingDirectory],
                ['Owner', r.owner],
                ['Created', <DateText value={r.dateCreated} />],
                ['Tags', tagsText(r.tags)],
                ['ARN', <code>{r.arn}</code>],
              ]}
            />
          </section>
          <section aria-labelledby="recipe-components-heading">
            <h2 id="recipe-components-heading">Components</h2>
            <RecipeComponents components={r.components} />
          </section>
          {d.kind === 'container' && d.recipe.dockerfileTemplateData && (
            <section aria-labelledby="recipe-dockerfile-heading">
              <h2 id="recipe-dockerfile-heading">Dockerfile template</h2>
              <pre tabIndex={0} aria-label="Dockerfile template">
                {d.recipe.dockerfileTemplateData}
              </pre>
            </section>
          )}
          <section aria-labelledby="recipe-delete-heading">
            <h2 id="recipe-delete-heading">Delete</h2>
            <DeleteAction what={`the ${noun} ${r.name ?? ''} ${r.version ?? ''}`} arn={arn} remove={remove} onDeleted={() => navigate(section)} />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
