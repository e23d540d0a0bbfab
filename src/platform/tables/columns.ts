import type { ColumnType } from 'kysely';

/** A column set when the row is inserted and never updated. */
export type CreatedOnly<T> = ColumnType<T, T, never>;

/** The columns every configuration object carries. */
export interface ObjectColumns {
  id: CreatedOnly<string>;
  version: number;
  created_at: CreatedOnly<Date>;
  created_by: CreatedOnly<string>;
  updated_at: Date;
  updated_by: string;
}
