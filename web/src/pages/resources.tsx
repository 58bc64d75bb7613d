/** Lists and details of every resource family (placeholder until the resource pages land). */
import type { Section } from '../sections';

export const ResourcePages: Section[] = [
  { id: 'pipelines', title: 'Image pipelines', nav: true, page: () => <h1>Image pipelines</h1> },
];
