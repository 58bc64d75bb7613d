import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

/** A document to run: where it came from, its text, and parameter values given for it alone. */
export interface DocumentInput {
  path: string;
  text: string;
  parameters: Record<string, string>;
}

/** Finds the document an ExecuteDocument step names, relative to the document that names it. */
export type DocumentLoader = (reference: string, fromPath: string) => Promise<DocumentInput>;

/**
 * The default loader: local files, relative to the calling document's folder. s3:// documents and component
 * ARNs need a configured S3 endpoint or a Kiln server, which the caller supplies with its own loader.
 */
export const loadLocalDocument: DocumentLoader = async (reference, fromPath) => {
  if (/^s3:\/\//i.test(reference) || reference.startsWith('arn:')) {
    throw new Error(`document ${reference} cannot be loaded here: only local files are supported by this runner`);
  }
  const path = isAbsolute(reference) ? reference : resolve(dirname(fromPath), reference);
  try {
    return { path, text: await readFile(path, 'utf8'), parameters: {} };
  } catch (err) {
    throw new Error(`document ${reference} could not be read at ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
};
