import { formatDate, isoDate } from './format';

/** A date from the API as a `<time>` in the reader's locale (nothing when absent). */
export function DateText({ value }: { value: string | Date | undefined | null }) {
  const iso = isoDate(value);
  if (!iso) return value ? <>{String(value)}</> : null;
  return <time dateTime={iso}>{formatDate(value)}</time>;
}
