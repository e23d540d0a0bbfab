/** Tables of inventory (devices, credentials) and changes (access groups, changes, requests). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ChangeTables {}
