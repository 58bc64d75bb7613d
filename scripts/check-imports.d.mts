/** src/ folders from the bottom up; a folder may import its own and lower layers only. */
export const LAYERS: readonly (readonly string[])[];
/** Cycles left for a bigger refactor: sorted members joined by ' | ' → why. */
export const ALLOWED_CYCLES: ReadonlyMap<string, string>;
/** Relative imports between TypeScript files under `dirs`, keyed and valued by repository-relative paths. */
export function importGraph(root: string, dirs: readonly string[]): Map<string, string[]>;
/** Imports of src/ production code into a peer or higher layer, as `from -> to`. */
export function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[];
/** Import cycles (strongly connected components), each as sorted members joined by ' | '. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[];
/** Upward imports, cycles not allow-listed, and allow-listed cycles that no longer exist, for the tree at `root`. */
export function checkImports(root: string): { files: number; upward: string[]; cycles: string[]; staleAllowances: string[] };
