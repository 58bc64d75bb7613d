/** A status word (AVAILABLE, ENABLED, FAILED…) coloured by the shared status classes. */
export function Status({ value, testId }: { value: string | undefined; testId?: string }) {
  if (!value) return null;
  return (
    <span className={`status status-${value}`} data-testid={testId}>
      {value}
    </span>
  );
}
