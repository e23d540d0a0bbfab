import { Alert } from '@mantine/core';
import { ApiError } from '../api/client.ts';

/**
 * What the server refused and why, in its own words, shown where the user acted. When every
 * problem it names is one of the form's `fields` (shown there), it stays silent: said once is enough.
 */
export function ServerRefusal({ error, title = 'Refused', fields = [] }: { error: unknown; title?: string; fields?: readonly string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.namesOnly(fields)) return null;
  return (
    <Alert color="red" variant="light" role="alert" title={title}>
      {error instanceof ApiError ? error.message : String(error)}
    </Alert>
  );
}
