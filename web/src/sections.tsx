/**
 * The console's views by route section (page.ts says what a page receives). Sections with `nav` appear in the
 * navigation bar, in this order.
 */
import type { Section } from './page';
import { ResourcePages } from './pages/resources';
import { CreatePipelineWizard } from './wizard/CreatePipelineWizard';

export const SECTIONS: Section[] = [
  ...ResourcePages,
  { id: 'create-pipeline', title: 'Create image pipeline', nav: false, page: CreatePipelineWizard },
];
