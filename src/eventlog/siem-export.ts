import type { HashedEventEntry } from './event.ts';

/**
 * An event-log entry as it leaves for a SIEM: exactly what `GET /api/v1/events` answers for it
 * (the evidence module's `presentEvent`, field for field and in the same order; a test holds the
 * two equal). The log never holds a secret (`appendEvent`), and nothing is added here.
 */
export interface ExportedEntry {
  readonly seq: number;
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly leafHash: string;
  readonly chainHash: string;
}

export function exportedEntry(entry: HashedEventEntry): ExportedEntry {
  return {
    seq: Number(entry.seq),
    time: entry.time.toISOString(),
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    data: entry.data,
    leafHash: entry.leafHash,
    chainHash: entry.chainHash,
  };
}

/** One line of JSON, newline-terminated: JSON escapes every newline inside a value, so an entry is always one line. */
export const jsonLine = (entry: ExportedEntry): string => `${JSON.stringify(entry)}\n`;

/** The RFC 5424 header fields Changegate's syslog messages carry. */
export interface SyslogIdentity {
  /** HOSTNAME: 1 to 255 printable ASCII characters. */
  readonly hostname: string;
  /** APP-NAME: 1 to 48 printable ASCII characters. */
  readonly appName: string;
  /** PROCID: this process's id. */
  readonly procId: string;
}

/** Facility 13, "log audit" (RFC 5424 §6.2.1), severity 6, informational: PRI = 13 × 8 + 6. */
const PRI = 13 * 8 + 6;

/** MSGID is at most 32 printable ASCII characters: the action, cut there (its full text is in the JSON). */
const msgId = (action: string): string => action.replace(/[^\x21-\x7e]/g, '_').slice(0, 32) || '-';

/** JSON with every non-ASCII character escaped (`\uXXXX`): still the same JSON, and a MSG of plain ASCII, which needs no BOM. */
const asciiJson = (entry: ExportedEntry): string => JSON.stringify(entry).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * One entry as an RFC 5424 message: `<110>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, the
 * entry's own time as TIMESTAMP, its action as MSGID, no structured data, and the JSON line
 * (without its newline) as MSG.
 *
 * ```
 * <110>1 2026-11-21T12:00:00.000Z cg1 changegate 4242 user.create - {"seq":7,"time":"2026-11-21T12:00:00.000Z",…}
 * ```
 */
export function syslogMessage(entry: ExportedEntry, identity: SyslogIdentity): string {
  return `<${PRI}>1 ${entry.time} ${identity.hostname} ${identity.appName} ${identity.procId} ${msgId(entry.action)} - ${asciiJson(entry)}`;
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, so a message never needs a delimiter it cannot contain. */
export function octetCounted(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}
