/** Where the export of the event log to each SIEM sink stands (migration 0025). */
export interface SiemExportTables {
  siem_export: SiemExportTable;
}

export interface SiemExportTable {
  /** The sink as configured (`file:/var/log/changegate.jsonl`, `syslog+tls://siem:6514`). */
  sink: string;
  /** The last entry the sink accepted: the export resumes after it. */
  acked_seq: number;
  acked_at: Date;
}
