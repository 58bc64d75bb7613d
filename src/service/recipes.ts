import { validationError, type Issue } from '../domain/errors.js';
import { createVersion } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import { containerRecipeFamily, imageRecipeFamily, type RecipeData, type RecipeFamily } from './recipe-families.js';
import { checkRecipeComponents } from './recipe-components.js';
import { parentImageIssues } from './parent-check.js';
import type { OperationHandler } from './types.js';
import { createdAnswer, versionedHandlers, versionedWire } from './versioned-handlers.js';

/** Create: the family's input rules, then the parent and the components against the store, then a new version of the recipe. */
function create(store: Store, recipes: RecipeFamily): OperationHandler {
  const wire = versionedWire(recipes.Noun, { builds: false });
  return async (input, ctx) => {
    recipes.checkCombination?.(input);
    const issues: Issue[] = [...recipes.checkInput(input)];
    // A parent is looked up only once its shape is right; the shape's issue says more than a failed lookup.
    if (!issues.some((i) => i.path === 'parentImage')) issues.push(...(await parentImageIssues(store, ctx, recipes.parentKind, String(input.parentImage))));
    const components = await checkRecipeComponents(store, ctx, input.components);
    issues.push(...components.issues);
    const parentPlatform = recipes.parentPlatform(input);
    if (parentPlatform !== undefined && components.platform !== undefined && parentPlatform !== components.platform) {
      issues.push({ path: 'components', message: `are ${components.platform} components, but the parent image is ${parentPlatform}` });
    }
    if (issues.length > 0) throw validationError(`The ${recipes.family.noun}`, issues);

    const { clientToken: _token, semanticVersion: _version, ...fields } = input;
    const data: RecipeData = { ...fields, name: input.name as string, platform: parentPlatform ?? components.platform ?? 'Linux', dateCreated: new Date().toISOString() };
    const record = await createVersion(store, ctx, recipes.family, recipes.family.types[0]!, data.name, input.semanticVersion as string, data, input);
    return createdAnswer(wire, input, record);
  };
}

function familyHandlers(store: Store, recipes: RecipeFamily): Record<string, OperationHandler> {
  return { [`Create${recipes.Noun}`]: create(store, recipes), ...versionedHandlers(store, recipes.family, versionedWire(recipes.Noun, { builds: false })) };
}

/** Operations on image recipes and container recipes: Create, Get, List and Delete of each. */
export function recipeHandlers(store: Store): Record<string, OperationHandler> {
  return { ...familyHandlers(store, imageRecipeFamily), ...familyHandlers(store, containerRecipeFamily) };
}
