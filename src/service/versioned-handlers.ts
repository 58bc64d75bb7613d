import type { VersionedFamily } from '../resources/family.js';
import type { TypedRecord } from '../resources/typed-record.js';
import { deleteBuild, getBuild, listBuilds, listVersions } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import { latestVersionReferences } from '../store/versioned.js';
import type { OperationHandler } from './types.js';
import { str, type JsonObject } from '../domain/json.js';

/** The wire names of a versioned family's operations and members, e.g. `GetComponent` and `componentBuildVersionArn`. */
export interface VersionedWire {
  operations: { get: string; list: string; listBuilds: string; delete: string };
  /** The build ARN member of Create's answer, Get's and Delete's input, and Delete's answer. */
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
 * nounVersionList, nounSummaryList.
 */
export function versionedWire(Noun: string): VersionedWire {
  const noun = Noun.charAt(0).toLowerCase() + Noun.slice(1);
  return {
    operations: { get: `Get${Noun}`, list: `List${Noun}s`, listBuilds: `List${Noun}BuildVersions`, delete: `Delete${Noun}` },
    buildArnField: `${noun}BuildVersionArn`,
    versionArnField: `${noun}VersionArn`,
    resultField: noun,
    versionListField: `${noun}VersionList`,
    buildListField: `${noun}SummaryList`,
  };
}

/** Create's answer for a stored build: the client token echoed, its ARN, and the latest-version references. */
export function createdAnswer(wire: VersionedWire, input: JsonObject, record: TypedRecord<JsonObject>): JsonObject {
  return { clientToken: str(input.clientToken), [wire.buildArnField]: record.arn, latestVersionReferences: latestVersionReferences(record) };
}

/** Get, List, ListBuildVersions and Delete of a versioned family, answering under the family's wire names. */
export function versionedHandlers<T extends JsonObject>(store: Store, family: VersionedFamily<T>, wire: VersionedWire): Record<string, OperationHandler> {
  return {
    [wire.operations.get]: async (input, ctx) => {
      const record = await getBuild(store, ctx, family, input[wire.buildArnField], wire.buildArnField);
      return { [wire.resultField]: family.toShape(record), latestVersionReferences: latestVersionReferences(record) };
    },
    [wire.operations.list]: async (input, ctx) => {
      const page = await listVersions(store, ctx, family, input);
      return { [wire.versionListField]: page.items, nextToken: page.nextToken };
    },
    [wire.operations.listBuilds]: async (input, ctx) => {
      const page = await listBuilds(store, ctx, family, input, wire.versionArnField);
      return { [wire.buildListField]: page.items, nextToken: page.nextToken };
    },
    [wire.operations.delete]: async (input, ctx) => ({ [wire.buildArnField]: await deleteBuild(store, ctx, family, input[wire.buildArnField], wire.buildArnField) }),
  };
}
