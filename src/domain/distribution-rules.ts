/**
 * Field rules of distribution configurations (and the tag rules they share with other resources), as pure
 * functions that return every issue with its path. The model's types are checked at the API edge; these are
 * the value rules the real service applies on top.
 */
import type { Issue } from './errors.js';
import { isJsonObject } from './json.js';

/** `{{ imagebuilder:buildDate }}`, with or without inner spaces, optionally with a date format. */
const BUILD_DATE_RE = /\{\{\s*imagebuilder:buildDate(?::[A-Za-z0-9._-]+)?\s*\}\}/;
/** Every template AMI names may carry: the build date and the build version. */
const TEMPLATE_RE = /\{\{\s*imagebuilder:(?:buildDate(?::[A-Za-z0-9._-]+)?|buildVersion)\s*\}\}/g;
/** Characters EC2 accepts in an AMI name outside the templates. */
const AMI_NAME_CHARS_RE = /^[a-zA-Z0-9().\-/_ ]*$/;
export const AMI_NAME_MIN = 3;
export const AMI_NAME_MAX = 127;

const ACCOUNT_ID_RE = /^[0-9]{12}$/;
const ORGANIZATION_ARN_RE = /^arn:aws[^:]*:organizations::[0-9]{12}:organization\/o-[a-z0-9]{10,32}$/;
const ORGANIZATIONAL_UNIT_ARN_RE = /^arn:aws[^:]*:organizations::[0-9]{12}:ou\/o-[a-z0-9]{10,32}\/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$/;
const LAUNCH_TEMPLATE_ID_RE = /^lt-[a-z0-9-_]{17}$/;
const LICENSE_CONFIGURATION_ARN_RE = /^arn:aws[^:]*:license-manager:[^:]+:[0-9]{12}:license-configuration:lic-[a-z0-9-_]{32}$/;
const SSM_PARAMETER_NAME_RE = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const TAG_KEY_RE = /^(?!aws:)[a-zA-Z0-9\s_.:/=+\-@]*$/;
/** Region names as Kiln's server configuration accepts them. */
const REGION_RE = /^[a-z][a-z0-9-]{0,62}$/;

const MAX_ACCOUNTS = 1536;
const MAX_ORGANIZATIONS = 25;
const MAX_NON_EMPTY = 1024;
export const DISK_IMAGE_FORMATS: readonly string[] = ['VMDK', 'RAW', 'VHD'];
export const CONTAINER_REPOSITORY_SERVICES: readonly string[] = ['ECR'];

const arr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);

/** A `NonEmptyString` of the model: 1-1024 characters. Absent values pass; `required` makes them an issue. */
export function checkNonEmpty(value: unknown, path: string, issues: Issue[], required = false): void {
  if (value === undefined || value === null) {
    if (required) issues.push({ path, message: 'is required' });
    return;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NON_EMPTY) issues.push({ path, message: `must be 1-${MAX_NON_EMPTY} characters` });
}

function checkList(value: unknown, path: string, issues: Issue[], max: number, each: (item: unknown, itemPath: string) => void): void {
  const list = arr(value);
  if (!list) return;
  if (list.length === 0 || list.length > max) issues.push({ path, message: `must hold 1-${max} entries, got ${list.length}` });
  list.forEach((item, i) => each(item, `${path}[${i}]`));
}

function checkPattern(value: unknown, path: string, issues: Issue[], re: RegExp, what: string): void {
  if (typeof value !== 'string' || !re.test(value)) issues.push({ path, message: `must be ${what}, got '${String(value)}'` });
}

/** A 12-digit AWS-style account id. */
export function checkAccountId(value: unknown, path: string, issues: Issue[]): void {
  checkPattern(value, path, issues, ACCOUNT_ID_RE, 'a 12-digit account id');
}

/**
 * AWS's tag rules: at most `max` tags, keys 1-128 characters of letters, digits, spaces and `_.:/=+-@` not
 * starting with `aws:`, values up to 256 characters.
 */
export function checkTagMap(value: unknown, path: string, issues: Issue[], max: number): void {
  if (!isJsonObject(value)) return;
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.length > max) issues.push({ path, message: `must hold 1-${max} tags, got ${keys.length}` });
  for (const key of keys) {
    if (key.length === 0 || key.length > 128 || !TAG_KEY_RE.test(key)) {
      issues.push({ path: `${path}.${key}`, message: "tag keys are 1-128 letters, digits, spaces or _.:/=+-@ and must not start with 'aws:'" });
    }
    const v = value[key];
    if (typeof v === 'string' && v.length > 256) issues.push({ path: `${path}.${key}`, message: 'tag values are at most 256 characters' });
  }
}

/**
 * The output AMI name: 3-127 characters of letters, digits, spaces and `().-/_`, plus templates; it must carry
 * `{{ imagebuilder:buildDate }}` so that every build's AMI gets a unique name (AWS refuses it otherwise).
 * `{{ imagebuilder:buildVersion }}` is allowed too. Returns the problems, none when the name is good.
 */
export function amiNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length < AMI_NAME_MIN || name.length > AMI_NAME_MAX) problems.push(`must be ${AMI_NAME_MIN}-${AMI_NAME_MAX} characters, got ${name.length}`);
  if (!BUILD_DATE_RE.test(name)) problems.push("must contain '{{ imagebuilder:buildDate }}' so that the name is unique for every build");
  const literal = name.replace(TEMPLATE_RE, '');
  if (/\{\{|\}\}/.test(literal)) problems.push("may use only the templates '{{ imagebuilder:buildDate }}' and '{{ imagebuilder:buildVersion }}'");
  else if (!AMI_NAME_CHARS_RE.test(literal)) problems.push('outside its templates may hold only letters, digits, spaces and ( ) . - / _');
  return problems;
}

/** `launchPermission`: account ids, the `all` group (public), organization and OU ARNs. */
export function checkLaunchPermission(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  checkList(value.userIds, `${path}.userIds`, issues, MAX_ACCOUNTS, (v, p) => checkAccountId(v, p, issues));
  const groups = arr(value.userGroups);
  groups?.forEach((g, i) => {
    if (g !== 'all') issues.push({ path: `${path}.userGroups[${i}]`, message: `the only user group is 'all' (public), got '${String(g)}'` });
  });
  checkList(value.organizationArns, `${path}.organizationArns`, issues, MAX_ORGANIZATIONS, (v, p) =>
    checkPattern(v, p, issues, ORGANIZATION_ARN_RE, 'an organization ARN (arn:aws:organizations::<account>:organization/o-...)'),
  );
  checkList(value.organizationalUnitArns, `${path}.organizationalUnitArns`, issues, MAX_ORGANIZATIONS, (v, p) =>
    checkPattern(v, p, issues, ORGANIZATIONAL_UNIT_ARN_RE, 'an organizational unit ARN (arn:aws:organizations::<account>:ou/o-.../ou-...)'),
  );
}

function checkAmiDistribution(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  if (typeof value.name === 'string') {
    for (const message of amiNameProblems(value.name)) issues.push({ path: `${path}.name`, message });
  }
  checkNonEmpty(value.description, `${path}.description`, issues);
  checkList(value.targetAccountIds, `${path}.targetAccountIds`, issues, MAX_ACCOUNTS, (v, p) => checkAccountId(v, p, issues));
  checkTagMap(value.amiTags, `${path}.amiTags`, issues, 50);
  checkNonEmpty(value.kmsKeyId, `${path}.kmsKeyId`, issues);
  checkLaunchPermission(value.launchPermission, `${path}.launchPermission`, issues);
}

function checkContainerDistribution(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  const repo = value.targetRepository;
  if (isJsonObject(repo)) {
    if (!CONTAINER_REPOSITORY_SERVICES.includes(String(repo.service))) {
      issues.push({ path: `${path}.targetRepository.service`, message: `must be ECR (Kiln's registry answers for it), got '${String(repo.service)}'` });
    }
    checkNonEmpty(repo.repositoryName, `${path}.targetRepository.repositoryName`, issues, true);
  }
  checkNonEmpty(value.description, `${path}.description`, issues);
  arr(value.containerTags)?.forEach((t, i) => checkNonEmpty(t, `${path}.containerTags[${i}]`, issues, true));
}

function checkS3Export(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  checkNonEmpty(value.roleName, `${path}.roleName`, issues, true);
  if (!DISK_IMAGE_FORMATS.includes(String(value.diskImageFormat))) {
    issues.push({ path: `${path}.diskImageFormat`, message: `must be one of ${DISK_IMAGE_FORMATS.join(', ')}, got '${String(value.diskImageFormat)}'` });
  }
  checkNonEmpty(value.s3Bucket, `${path}.s3Bucket`, issues, true);
  checkNonEmpty(value.s3Prefix, `${path}.s3Prefix`, issues);
}

function checkFastLaunch(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  if (value.accountId !== undefined) checkAccountId(value.accountId, `${path}.accountId`, issues);
  const max = value.maxParallelLaunches;
  if (max !== undefined && (!Number.isInteger(max) || (max as number) < 1)) issues.push({ path: `${path}.maxParallelLaunches`, message: 'must be a positive integer' });
  const snap = value.snapshotConfiguration;
  if (isJsonObject(snap) && snap.targetResourceCount !== undefined) {
    const n = snap.targetResourceCount;
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 10000) issues.push({ path: `${path}.snapshotConfiguration.targetResourceCount`, message: 'must be 1-10000' });
  }
  const lt = value.launchTemplate;
  if (isJsonObject(lt)) {
    if (lt.launchTemplateId !== undefined) checkPattern(lt.launchTemplateId, `${path}.launchTemplate.launchTemplateId`, issues, LAUNCH_TEMPLATE_ID_RE, 'a launch template id (lt- and 17 characters)');
    if (lt.launchTemplateId !== undefined && lt.launchTemplateName !== undefined) {
      issues.push({ path: `${path}.launchTemplate`, message: 'give launchTemplateId or launchTemplateName, not both' });
    }
    checkNonEmpty(lt.launchTemplateName, `${path}.launchTemplate.launchTemplateName`, issues);
    checkNonEmpty(lt.launchTemplateVersion, `${path}.launchTemplate.launchTemplateVersion`, issues);
  }
}

function checkLaunchTemplate(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  checkPattern(value.launchTemplateId, `${path}.launchTemplateId`, issues, LAUNCH_TEMPLATE_ID_RE, 'a launch template id (lt- and 17 characters)');
  if (value.accountId !== undefined) checkAccountId(value.accountId, `${path}.accountId`, issues);
}

function checkSsmParameter(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  checkPattern(value.parameterName, `${path}.parameterName`, issues, SSM_PARAMETER_NAME_RE, 'an SSM parameter name (letters, digits and _.-/)');
  if (value.amiAccountId !== undefined) checkAccountId(value.amiAccountId, `${path}.amiAccountId`, issues);
  if (value.dataType !== undefined && value.dataType !== 'text' && value.dataType !== 'aws:ec2:image') {
    issues.push({ path: `${path}.dataType`, message: `must be text or aws:ec2:image, got '${String(value.dataType)}'` });
  }
}

/** Members of a Distribution that produce something; AWS wants at least one per region. */
const OUTPUT_MEMBERS = [
  'amiDistributionConfiguration',
  'containerDistributionConfiguration',
  'licenseConfigurationArns',
  'launchTemplateConfigurations',
  's3ExportConfiguration',
  'fastLaunchConfigurations',
  'ssmParameterConfigurations',
];

/** Where a distribution may go: a region name, checked against Kiln's configured regions when they are known. */
export interface RegionRule {
  /** The configured regions; undefined when the caller cannot know them (then only the name's shape is checked). */
  regions?: ReadonlySet<string>;
}

/**
 * Checks `distributions`: at least one, one per region, each region a configured one, at least one output per
 * region, and every nested field rule. Returns all issues with paths such as `distributions[0].region`.
 */
export function checkDistributions(value: unknown, rule: RegionRule = {}): Issue[] {
  const issues: Issue[] = [];
  const list = arr(value);
  if (!list || list.length === 0) {
    issues.push({ path: 'distributions', message: 'must hold at least one distribution' });
    return issues;
  }
  const seen = new Set<string>();
  list.forEach((d, i) => {
    const path = `distributions[${i}]`;
    if (!isJsonObject(d)) return;
    const region = d.region;
    if (typeof region !== 'string' || !REGION_RE.test(region)) {
      issues.push({ path: `${path}.region`, message: `must be a region name, got '${String(region)}'` });
    } else if (rule.regions && !rule.regions.has(region)) {
      issues.push({ path: `${path}.region`, message: `'${region}' is not a region of this Kiln; configured: ${[...rule.regions].join(', ')}` });
    } else if (seen.has(region)) {
      issues.push({ path: `${path}.region`, message: `'${region}' appears more than once; give one distribution per region` });
    }
    if (typeof region === 'string') seen.add(region);
    if (!OUTPUT_MEMBERS.some((m) => d[m] !== undefined && d[m] !== null)) {
      issues.push({ path, message: 'one or more outputs (amiDistributionConfiguration, containerDistributionConfiguration, ...) must be given for each region' });
    }
    checkAmiDistribution(d.amiDistributionConfiguration, `${path}.amiDistributionConfiguration`, issues);
    checkContainerDistribution(d.containerDistributionConfiguration, `${path}.containerDistributionConfiguration`, issues);
    checkS3Export(d.s3ExportConfiguration, `${path}.s3ExportConfiguration`, issues);
    checkList(d.licenseConfigurationArns, `${path}.licenseConfigurationArns`, issues, 50, (v, p) =>
      checkPattern(v, p, issues, LICENSE_CONFIGURATION_ARN_RE, 'a License Manager configuration ARN'),
    );
    checkList(d.launchTemplateConfigurations, `${path}.launchTemplateConfigurations`, issues, 100, (v, p) => checkLaunchTemplate(v, p, issues));
    checkList(d.fastLaunchConfigurations, `${path}.fastLaunchConfigurations`, issues, 1000, (v, p) => checkFastLaunch(v, p, issues));
    arr(d.ssmParameterConfigurations)?.forEach((v, j) => checkSsmParameter(v, `${path}.ssmParameterConfigurations[${j}]`, issues));
  });
  return issues;
}

/** The regions a distribution configuration sends to, in its order (the list summary's `regions`). */
export function distributionRegions(value: unknown): string[] {
  return (arr(value) ?? []).flatMap((d) => (isJsonObject(d) && typeof d.region === 'string' ? [d.region] : []));
}
