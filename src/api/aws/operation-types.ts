/**
 * Types of the generated operation table (src/api/aws/generated/operations.ts). They describe the restJson1
 * binding of each operation exactly as @aws-sdk/client-imagebuilder serializes it.
 */

export type SimpleType = 'string' | 'number' | 'boolean' | 'timestamp' | 'document' | 'blob' | 'bigInteger' | 'bigDecimal';

/** A member's type: a simple type, a list or map of a type, or a named structure. */
export type TypeRef = SimpleType | { list: TypeRef } | { map: TypeRef } | { structure: string };

/** Where a request member travels on the wire. */
export type MemberLocation = 'body' | 'query' | 'label' | 'header';

export interface MemberDef {
  name: string;
  type: TypeRef;
  location: MemberLocation;
  /** Query parameter or header name when it differs from the member name. */
  locationName?: string;
  /** The SDK fills it with a UUID when the caller leaves it out (`clientToken`). */
  idempotencyToken?: boolean;
}

export interface StructureDef {
  members: MemberDef[];
  required: string[];
}

export interface OperationDef {
  name: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' | 'HEAD';
  /** URI template, e.g. `/CreateComponent` or `/tags/{resourceArn}`. */
  path: string;
  status: number;
  input: string;
  output: string;
}

export interface ErrorDef {
  name: string;
  status: number;
  fault: 'client' | 'server';
}
