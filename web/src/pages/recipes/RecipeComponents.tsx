import type { ComponentConfiguration } from '@aws-sdk/client-imagebuilder';
import { ArnLink } from '../shared/ArnLink';
import { parseArn } from '../shared/format';

/** A recipe's components in order, with the version each names and the parameters it sets. */
export function RecipeComponents({ components }: { components: ComponentConfiguration[] | undefined }) {
  const list = components ?? [];
  if (list.length === 0) return <p className="muted">No components.</p>;
  return (
    <div className="res-table-wrap res-list">
      <table>
        <caption>Components, in the order they run</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Component</th>
            <th scope="col">Version</th>
            <th scope="col">Parameters</th>
          </tr>
        </thead>
        <tbody>
          {list.map((c, i) => {
            const parts = parseArn(c.componentArn);
            return (
              <tr key={`${c.componentArn ?? ''} ${i}`}>
                <td data-label="#">{i + 1}</td>
                <td data-label="Component">
                  <ArnLink arn={c.componentArn} label={parts?.name} />
                  {parts && !/^\d{12}$/.test(parts.owner) && <span className="muted"> ({parts.owner})</span>}
                </td>
                <td data-label="Version">{[parts?.version, parts?.build].filter(Boolean).join('/')}</td>
                <td data-label="Parameters">
                  {(c.parameters ?? []).length === 0 ? (
                    <span className="muted">defaults</span>
                  ) : (
                    <ul className="res-plain">
                      {(c.parameters ?? []).map((p) => (
                        <li key={p.name}>
                          <code>{p.name}</code> = {(p.value ?? []).join(', ')}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
