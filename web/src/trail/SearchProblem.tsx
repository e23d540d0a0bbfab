import { Alert, Code, Text, VisuallyHidden } from '@mantine/core';
import { ApiError } from '../api/client.ts';
import { problemSpan } from './search-syntax.ts';

/** Where the server could not read a search (`search_invalid`): the query, the column, the term there. */
export interface SearchTrouble {
  readonly query: string;
  readonly column: number;
  readonly token: string;
  readonly message: string;
}

/** The search problem an API error names, if it is one. */
export function searchTrouble(error: unknown, asked: string): SearchTrouble | undefined {
  if (!(error instanceof ApiError) || error.code !== 'search_invalid') return undefined;
  const details = error.details ?? {};
  const column = typeof details.column === 'number' ? details.column : 1;
  return {
    // The server names the query it read: a saved filter's, when that one is wrong.
    query: typeof details.query === 'string' ? details.query : asked,
    column,
    token: typeof details.token === 'string' ? details.token : '',
    message: error.message,
  };
}

/** The query with the problem underlined at the column the server names, and its message. Never a list. */
export function SearchProblem({ trouble, hint }: { trouble: SearchTrouble; hint: string }) {
  const { start, end } = problemSpan(trouble.query, trouble.column, trouble.token);
  const marked = trouble.query.slice(start, end);
  return (
    <Alert color="red" role="alert" title={`The search cannot be read at column ${trouble.column}`} maw={900}>
      <Code block aria-label="The search, the problem marked" fz="sm" my="xs" style={{ whiteSpace: 'pre-wrap' }}>
        {trouble.query.slice(0, start)}
        <VisuallyHidden>(problem here: </VisuallyHidden>
        <mark title={trouble.message} style={{ background: 'transparent', color: 'inherit', textDecoration: 'underline wavy var(--mantine-color-red-9) 2px', textUnderlineOffset: 4 }}>
          {/* A missing value has no characters to underline: spaces stand where it goes. */}
          {marked || '\u00a0\u00a0'}
        </mark>
        <VisuallyHidden>)</VisuallyHidden>
        {trouble.query.slice(end)}
      </Code>
      <Text size="sm">{trouble.message}</Text>
      <Text size="sm" mt={4}>
        {hint}
      </Text>
    </Alert>
  );
}
