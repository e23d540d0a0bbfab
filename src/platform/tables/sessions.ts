/** Tables of brokered sessions and their captured commands. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionTables {}
