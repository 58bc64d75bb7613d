import type { ReactNode } from 'react';
import { href } from '../../router';
import { ErrorNote } from './ErrorNote';
import { useFocusHeading } from './useFocusHeading';

interface Props {
  /** The list this detail belongs to: its section id and title. */
  section: string;
  sectionTitle: string;
  heading: string | undefined;
  loading: boolean;
  error: unknown;
  children?: ReactNode;
}

/** The frame of a detail page: a link back to its list, the heading, and the loading or error state. */
export function DetailFrame({ section, sectionTitle, heading, loading, error, children }: Props) {
  const ref = useFocusHeading<HTMLHeadingElement>(heading !== undefined);
  return (
    <article className="res-detail">
      <p className="res-back">
        <a href={href(section)}>← {sectionTitle}</a>
      </p>
      {heading !== undefined ? (
        <h1 ref={ref} tabIndex={-1}>
          {heading}
        </h1>
      ) : <h1 className="muted">{loading ? 'Loading…' : sectionTitle}</h1>}
      {error !== undefined && <ErrorNote error={error} action="Loading" />}
      {children}
    </article>
  );
}
