/**
 * What a console page is: the session and its route in (`route.rest` holds an ARN for detail views), a view
 * out. Kept apart from sections.tsx, which lists the pages, so that pages can name these types without
 * importing the list that imports them.
 */
import type { ComponentType } from 'react';
import type { Route } from './router';
import type { Session } from './session';

/** The props every page receives. */
export interface PageProps {
  session: Session;
  route: Route;
}

/** One route section; sections with `nav` appear in the navigation bar. `page` may be lazy (App renders it under Suspense). */
export interface Section {
  id: string;
  title: string;
  nav: boolean;
  page: ComponentType<PageProps>;
}
