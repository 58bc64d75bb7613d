/** Repository-relative path of the generated operation table. */
export const OUTPUT_PATH: string;
/** Returns the TypeScript source of the operation table, generated from the installed SDK's schemas. */
export function generateOperationsSource(): string;
