/**
 * The console's views by route section. Each page receives the session and its route (`route.rest` holds an
 * ARN for detail views). Sections with `nav` appear in the navigation bar, in this order.
 */
import type { JSX } from 'react';
import type { Route } from './router';
import type { Session } from './session';
import { ResourcePages } from './pages/resources';
import { CreatePipelineWizard } from './wizard/CreatePipelineWizard';

export interface PageProps {
  session: Session;
  route: Route;
}

export interface Section {
  id: string;
  title: string;
  nav: boolean;
  page: (props: PageProps) => JSX.Element;
}

export const SECTIONS: Section[] = [
  ...ResourcePages,
  { id: 'create-pipeline', title: 'Create image pipeline', nav: false, page: CreatePipelineWizard },
];
