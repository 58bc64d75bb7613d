/**
 * What the wizard holds while the user walks it: one draft per step, as the user typed it. Requests are made
 * from these drafts (requests.ts); nothing here checks a value, the API does.
 */
import type { CronBuilder } from './cron';

export type StepId = 'details' | 'recipe' | 'infrastructure' | 'distribution' | 'review';

export const STEPS: { id: StepId; title: string }[] = [
  { id: 'details', title: 'Pipeline details' },
  { id: 'recipe', title: 'Recipe' },
  { id: 'infrastructure', title: 'Infrastructure configuration' },
  { id: 'distribution', title: 'Distribution' },
  { id: 'review', title: 'Review and create' },
];

export const START_DEPENDENCIES = 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE';
export const START_EVERY_RUN = 'EXPRESSION_MATCH_ONLY';

export interface DetailsDraft {
  name: string;
  description: string;
  schedule: CronBuilder;
  /** The expression sent: written by the builder, or typed (frequency `custom`). */
  expression: string;
  timezone: string;
  startCondition: string;
  enhancedMetadata: boolean;
  imageTests: boolean;
  /** Minutes, as typed; empty leaves the API's default. */
  testTimeout: string;
}

export type RecipeKind = 'container' | 'image';

/** One component of a new recipe: which one, which version (exact or a wildcard such as 1.x.x), its parameters. */
export interface ChosenComponent {
  /** A stable key for React and field ids. */
  key: string;
  name: string;
  /** The component's ARN without its version: `arn:…:component/<name>`. */
  base: string;
  /** Versions the lists showed, newest first. */
  versions: string[];
  /** The version sent: one of `versions` or a wildcard. */
  version: string;
  owner: string;
  /** Parameter values as typed, by name; an empty value is not sent (the document's default applies). */
  values: Record<string, string>;
}

export interface RecipeDraft {
  mode: 'existing' | 'new';
  /** The chosen existing recipe's ARN (its type tells container from image). */
  existingArn: string;
  kind: RecipeKind;
  name: string;
  version: string;
  description: string;
  /** An image ARN from the picker, or `other` for `baseReference`. */
  baseChoice: string;
  baseReference: string;
  components: ChosenComponent[];
  dockerfile: string;
  targetRepository: string;
}

export const DEFAULT_DOCKERFILE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n';
export const OTHER_BASE = 'other';

export interface InfrastructureDraft {
  mode: 'existing' | 'new';
  existingArn: string;
  name: string;
  description: string;
  /** Kiln's instance types ticked, in catalogue order. */
  instanceTypes: string[];
  /** More instance types (EC2 names, say), comma-separated. */
  otherInstanceTypes: string;
  instanceProfileName: string;
  /** `default` (no subnet), `none` (no network) or `other` (subnetId). */
  subnet: 'default' | 'none' | 'other';
  subnetId: string;
  logBucket: string;
  logPrefix: string;
  keepOnFailure: boolean;
  snsTopicArn: string;
}

export interface DistributionDraft {
  mode: 'none' | 'existing' | 'new';
  existingArn: string;
  name: string;
  description: string;
  /** Region names among the server's configured regions; every region gets the same outputs. */
  regions: string[];
  containerRepository: string;
  containerTags: string;
  amiName: string;
  targetAccounts: string;
  launchUserIds: string;
  launchPublic: boolean;
  exportEnabled: boolean;
  exportBucket: string;
  exportPrefix: string;
  exportFormat: string;
  exportRole: string;
}

export function initialDetails(): DetailsDraft {
  return {
    name: '',
    description: '',
    schedule: { frequency: 'daily', minute: 0, time: '00:00', weekdays: ['MON'], dayOfMonth: '1' },
    expression: 'cron(0 0 * * ? *)',
    timezone: 'UTC',
    startCondition: START_DEPENDENCIES,
    enhancedMetadata: true,
    imageTests: true,
    testTimeout: '',
  };
}

export function initialRecipe(): RecipeDraft {
  return {
    mode: 'new',
    existingArn: '',
    kind: 'container',
    name: '',
    version: '1.0.0',
    description: '',
    baseChoice: '',
    baseReference: '',
    components: [],
    dockerfile: DEFAULT_DOCKERFILE,
    targetRepository: '',
  };
}

export function initialInfrastructure(): InfrastructureDraft {
  return {
    mode: 'new',
    existingArn: '',
    name: '',
    description: '',
    instanceTypes: ['ns.small'],
    otherInstanceTypes: '',
    instanceProfileName: 'kiln',
    subnet: 'default',
    subnetId: '',
    logBucket: '',
    logPrefix: '',
    keepOnFailure: false,
    snsTopicArn: '',
  };
}

export function initialDistribution(region: string): DistributionDraft {
  return {
    mode: 'none',
    existingArn: '',
    name: '',
    description: '',
    regions: [region],
    containerRepository: '',
    containerTags: '',
    amiName: '{{ imagebuilder:buildDate }}',
    targetAccounts: '',
    launchUserIds: '',
    launchPublic: false,
    exportEnabled: false,
    exportBucket: '',
    exportPrefix: '',
    exportFormat: 'RAW',
    exportRole: 'kiln',
  };
}

/** The kind of recipe the pipeline will build: from the existing recipe's ARN, or the new recipe's kind. */
export function recipeKind(recipe: RecipeDraft): RecipeKind {
  if (recipe.mode === 'new') return recipe.kind;
  return recipe.existingArn.includes(':image-recipe/') ? 'image' : 'container';
}

/** A comma- or whitespace-separated list, without empty items. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
