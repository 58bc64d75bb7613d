import type { VersionedFamily } from '../resources/family.js';
import type { TypedRecord } from '../resources/typed-record.js';
import { deleteBuild, getBuild, listBuilds, listVersions } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import { latestVersionReferences } from '../store/versioned.js';
import type { OperationHandler, RequestContext } from './types.js';
import { str, type JsonObject } from '../domain/json.js';

/** The wire names of a versioned family's operations and members, e.g. `GetComponent` and `componentBuildVersionArn`. */
export interface VersionedWire {
  operations: { get: string; list: string; listBuilds: string; delete: string };
  /** The ARN member of Create's answer, Get's and Delete's input, and Delete's answer. */
  buildArnField: string;
  /** ListBuildVersions' version ARN input member. */
  versionArnField: string;
  /** Get's result member: `component`, `workflow`. */
  resultField: string;
  versionListField: string;
  buildListField: string;
}

/**
 * The wire names Image Builder gives a versioned family called `Noun` (`Component`, `Workflow`): GetNoun,
 * ListNouns, ListNounBuildVersions, DeleteNoun, and members nounBuildVersionArn, nounVersionArn, noun,
 * nounVersionList, nounSummaryList. A family that numbers no builds (`ImageRecipe`) is addressed by nounArn
 * and lists a nounSummaryList.
 */
export function versionedWire(Noun: string, options: { builds: boolean } = { builds: true }): VersionedWire {
  const noun = Noun.charAt(0).toLowerCase() + Noun.slice(1);
  return {
    operations: { get: `Get${Noun}`, list: `List${Noun}s`, listBuilds: `List${Noun}BuildVersions`, delete: `Delete${Noun}` },
    buildArnField: options.builds ? `${noun}BuildVersionArn` : `${noun}Arn`,
    versionArnField: `${noun}VersionArn`,
    resultField: noun,
    versionListField: options.builds ? `${noun}VersionList` : `${noun}SummaryList`,
    buildListField: `${noun}SummaryList`,
  };
}

/** The members a document family's shape (Component, Workflow) opens with, in the model's order. */
export function documentHead(record: TypedRecord<{ name: string; description?: string; changeDescription?: string; type: string }>): JsonObject {
  const d = record.data;
  return { arn: record.arn, name: d.name, version: record.version, description: d.description, changeDescription: d.changeDescription, type: d.type };
}

/** Create's answer for a stored build: the client token echoed, its ARN, and the latest-version references. */
export function createdAnswer(wire: VersionedWire, input: JsonObject, record: TypedRecord<JsonObject>): JsonObject {
  return { clientToken: str(input.clientToken), [wire.buildArnField]: record.arn, latestVersionReferences: latestVersionReferences(record) };
}

/** Get, List, ListBuildVersions (where the family numbers builds) and Delete of a versioned family, answering under the family's wire names. */
export function versionedHandlers<T extends JsonObject>(store: Store, family: VersionedFamily<T>, wire: VersionedWire): Record<string, OperationHandler> {
  const { toBuildSummary } = family;
  return {
    [wire.operations.get]: async (input, ctx) => {
      const record = await getBuild(store, ctx, family, input[wire.buildArnField], wire.buildArnField);
      return { [wire.resultField]: family.toShape(record), latestVersionReferences: latestVersionReferences(record) };
    },
    [wire.operations.list]: async (input, ctx) => {
      const page = await listVersions(store, ctx, family, input);
      return { [wire.versionListField]: page.items, nextToken: page.nextToken };
    },
    ...(family.builds && toBuildSummary
      ? {
          [wire.operations.listBuilds]: async (input: JsonObject, ctx: RequestContext) => {
            const page = await listBuilds(store, ctx, { ...family, toBuildSummary }, input, wire.versionArnField);
            return { [wire.buildListField]: page.items, nextToken: page.nextToken };
          },
        }
      : {}),
    [wire.operations.delete]: async (input, ctx) => ({ [wire.buildArnField]: await deleteBuild(store, ctx, family, input[wire.buildArnField], wire.buildArnField) }),
  };
}
