import { Alert } from '@mantine/core';
import { ApiError } from '../api/client.ts';

/** The field a problem names: `/body/name` (schema checks) and `/name` (the services' own) both name `name`. */
function fieldOfPath(path: string): string {
  return path.replace(/^\/((body|querystring|params)\/)?/, '').split('/')[0] ?? '';
}

/**
 * The server's message for one field, when it named it. (ApiError.fieldMessage reads only
 * `/body/…` paths; the services name fields as `/name`.)
 */
export function fieldProblem(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.details?.problems?.find((problem) => fieldOfPath(problem.path) === field)?.message;
}

/**
 * What the server refused and why, in its own words, shown where the user acted. When every
 * problem it names is one of the form's `fields` (shown there), it stays silent: said once is enough.
 */
export function ServerRefusal({ error, title = 'Refused', fields = [] }: { error: unknown; title?: string; fields?: readonly string[] }) {
  if (!error) return null;
  const problems = error instanceof ApiError ? (error.details?.problems ?? []) : [];
  if (problems.length > 0 && problems.every((problem) => fields.includes(fieldOfPath(problem.path)))) return null;
  return (
    <Alert color="red" variant="light" role="alert" title={title}>
      {error instanceof ApiError ? error.message : String(error)}
    </Alert>
  );
}
