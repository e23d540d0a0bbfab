import { AppError } from '../platform/errors.ts';
import type { SearchError } from './search.ts';

/** A query that cannot be understood: 400 `search_invalid`, naming what is wrong and the column where. */
export function searchError(error: SearchError, query: string): AppError {
  return new AppError('search_invalid', 400, `The search cannot be read at column ${error.column} ("${error.token}"): ${error.message}`, {
    column: error.column,
    token: error.token,
    query,
  });
}
