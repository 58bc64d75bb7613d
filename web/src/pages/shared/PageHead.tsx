import type { ReactNode } from 'react';
import { useFocusHeading } from './useFocusHeading';

/** A list page's heading with its actions (links or buttons) beside it. */
export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useFocusHeading<HTMLHeadingElement>(true);
  return (
    <div className="res-head">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children && <div className="actions">{children}</div>}
    </div>
  );
}
