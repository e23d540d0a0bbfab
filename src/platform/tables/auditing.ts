/** Tables of active auditing (audit rules, the audit trail, filters). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuditingTables {}
