import { readFileSync } from 'node:fs';
import { parse, YAMLMap, YAMLSeq } from 'yaml';

/**
 * Just enough of CloudFormation to replay the sample templates in ../shared/conformance/definitions/
 * against Kiln: their intrinsic functions evaluated, and their PascalCase properties turned into SDK input.
 */

const INTRINSICS = ['Ref', 'Sub', 'If', 'Not', 'Equals', 'Join', 'GetAtt', 'ImportValue', 'Base64', 'Select', 'Split', 'FindInMap'];
const TAGS = INTRINSICS.flatMap((n) => {
  const key = n === 'Ref' ? 'Ref' : `Fn::${n}`;
  return [
    { tag: `!${n}`, resolve: (v: string) => ({ [key]: v }) },
    { tag: `!${n}`, collection: 'seq' as const, nodeClass: YAMLSeq, resolve: (s: YAMLSeq) => ({ [key]: s.toJSON() as unknown }) },
    { tag: `!${n}`, collection: 'map' as const, nodeClass: YAMLMap, resolve: (m: YAMLMap) => ({ [key]: m.toJSON() as unknown }) },
  ];
});

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

export interface CfnTemplate {
  Parameters?: Record<string, { Default?: unknown }>;
  Resources: Record<string, CfnResource>;
}

/** Reads a CloudFormation YAML template, short-form tags included. */
export function readTemplate(file: string): CfnTemplate {
  return parse(readFileSync(file, 'utf8'), { customTags: TAGS as never }) as CfnTemplate;
}

/** Evaluates Ref, Fn::Sub, Fn::Join and Fn::Base64 with the given names (logical ids, parameters, pseudo parameters). */
export function evaluate(value: unknown, names: Record<string, string>): unknown {
  const name = (n: string): string => {
    const v = names[n];
    if (v === undefined) throw new Error(`the template refers to ${n}, which the test does not define`);
    return v;
  };
  if (Array.isArray(value)) return value.map((v) => evaluate(v, names));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) return name(String(obj.Ref));
  if ('Fn::Sub' in obj) {
    const [text, vars] = Array.isArray(obj['Fn::Sub']) ? (obj['Fn::Sub'] as [string, Record<string, unknown>]) : [obj['Fn::Sub'] as string, {}];
    const scope = { ...names, ...(evaluate(vars, names) as Record<string, string>) };
    return text.replace(/\$\{([^}]+)\}/g, (_m, n: string) => evaluate({ Ref: n }, scope) as string);
  }
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return (evaluate(parts, names) as string[]).join(sep);
  }
  if ('Fn::Base64' in obj) return Buffer.from(String(evaluate(obj['Fn::Base64'], names))).toString('base64');
  const fn = Object.keys(obj).find((k) => k.startsWith('Fn::'));
  if (fn) throw new Error(`${fn} is not supported by this test helper`);
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, evaluate(v, names)]));
}

/** PascalCase CloudFormation properties → camelCase SDK members, recursively (`Version` is `semanticVersion`). */
export function toSdkInput(props: unknown): unknown {
  if (Array.isArray(props)) return props.map(toSdkInput);
  if (typeof props !== 'object' || props === null) return props;
  return Object.fromEntries(
    Object.entries(props as Record<string, unknown>).map(([k, v]) => [k === 'Version' ? 'semanticVersion' : k[0]!.toLowerCase() + k.slice(1), toSdkInput(v)]),
  );
}

/** The names a template may refer to: its parameters' defaults and the pseudo parameters of Kiln's region. */
export function templateNames(template: CfnTemplate, region: string, extra: Record<string, string> = {}): Record<string, string> {
  const params = Object.fromEntries(Object.entries(template.Parameters ?? {}).map(([k, p]) => [k, String(p.Default ?? '')]));
  return { ...params, 'AWS::Partition': 'aws', 'AWS::Region': region, 'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackName': 'kiln-test', ...extra };
}
