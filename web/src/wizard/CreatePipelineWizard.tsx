import type { PageProps } from '../sections';

/** The Create image pipeline wizard (placeholder until it lands). */
export function CreatePipelineWizard(_props: PageProps) {
  return <h1>Create image pipeline</h1>;
}
