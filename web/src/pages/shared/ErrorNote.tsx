import { ApiError, errorText } from '../../api';
import { href } from '../../router';
import { arnNounLabel, arnsIn, sectionOfArn } from './format';

const DEPENDENCY_ERRORS = new Set(['ResourceDependencyException', 'ResourceInUseException']);

function errorName(err: unknown): string {
  if (err instanceof ApiError) return err.code;
  return err instanceof Error ? err.name : '';
}

/** True for an API error that refuses an action because other resources depend on the target (or it is busy). */
export function isDependencyError(err: unknown): boolean {
  return DEPENDENCY_ERRORS.has(errorName(err));
}

/**
 * An API error as an alert. A refusal because the resource is in use is explained: the resources the API names
 * are linked ("In use by …: delete or update those first"), followed by the API's own message.
 */
export function ErrorNote({ error, action, self, id }: { error: unknown; action?: string; self?: string; id?: string }) {
  if (!isDependencyError(error)) {
    return (
      <div role="alert" className="error res-error" id={id}>
        {action ? `${action} failed: ` : ''}
        {errorText(error)}
      </div>
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const users = arnsIn(message).filter((arn) => arn !== self && !(self && arn.startsWith(`${self}/`)));
  return (
    <div role="alert" className="error res-error" id={id}>
      <p>
        <strong>{action ? `${action} refused. ` : ''}</strong>
        {users.length > 0 ? (
          <>
            In use by{' '}
            {users.map((arn, i) => {
              const section = sectionOfArn(arn);
              return (
                <span key={arn}>
                  {i > 0 ? ', ' : ''}
                  {section ? <a href={href(section, arn)}>{arnNounLabel(arn)}</a> : arn}
                </span>
              );
            })}
            : delete or update those first.
          </>
        ) : (
          'It is in use: wait for it or change what depends on it first.'
        )}
      </p>
      <p className="res-api-message">
        {errorName(error)}: {message}
      </p>
    </div>
  );
}
