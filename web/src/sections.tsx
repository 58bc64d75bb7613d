/**
 * The console's views by route section (page.ts says what a page receives). Sections with `nav` appear in the
 * navigation bar, in this order. Every page is loaded when first opened (lazyView.ts).
 */
import { lazyView } from './lazyView';
import type { Section } from './page';
import { ResourcePages } from './pages/resources';

export const SECTIONS: Section[] = [
  ...ResourcePages,
  { id: 'create-pipeline', title: 'Create image pipeline', nav: false, page: lazyView(() => import('./wizard/CreatePipelineWizard'), 'CreatePipelineWizard') },
];
