import { parse, PGlite, protocol } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { prepareValue } from 'pg/lib/utils.js';

type Command = PostgresQueryResult<unknown>['command'];

const COMMANDS: readonly Command[] = ['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'SELECT'];

/** A connection that waits longer than this is almost surely a query on `db` inside a transaction. */
const ACQUIRE_TIMEOUT_MS = 30_000;

/**
 * Adapts PGlite to the pool interface of Kysely's `PostgresDialect`.
 *
 * PGlite is one connection in this process, so the pool hands it to one borrower at a time and
 * queues the others: a transaction holds it from BEGIN to COMMIT and nothing interleaves. A borrower
 * that waits too long gets an error naming the likely cause instead of hanging forever.
 */
export class PGlitePool implements PostgresPool {
  private busy = false;
  private readonly waiting: Array<(client: PostgresPoolClient) => void> = [];

  constructor(readonly pglite: PGlite) {}

  connect(): Promise<PostgresPoolClient> {
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(this.client());
    }
    return new Promise((resolve, reject) => {
      const grant = (client: PostgresPoolClient) => {
        clearTimeout(timer);
        resolve(client);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(new Error('Timed out waiting for the embedded database: a query ran outside the open transaction.'));
      }, ACQUIRE_TIMEOUT_MS);
      this.waiting.push(grant);
    });
  }

  async end(): Promise<void> {
    await this.pglite.close();
  }

  private client(): PostgresPoolClient {
    let released = false;
    const pglite = this.pglite;
    const client = {
      async query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        // Without parameters, run the simple protocol as pg does, so a migration file's many statements run.
        const result = parameters.length === 0 ? ((await pglite.exec(sql)).at(-1) ?? { rows: [], affectedRows: 0 }) : await extendedQuery(pglite, sql, parameters);
        return { command: commandOf(sql), rowCount: result.affectedRows ?? result.rows.length, rows: result.rows as R[] };
      },
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiting.shift();
        if (next) next(this.client());
        else this.busy = false;
      },
    };
    return client as PostgresPoolClient;
  }
}

/**
 * One statement with parameters, in one call into PGlite: Parse, Bind, Describe, Execute and Sync
 * sent together, as pg sends them to PostgreSQL. The values are prepared as pg prepares them (a
 * Buffer as binary, a Date with its offset, an array as an array literal, an object as JSON), so
 * both databases receive the same text. PGlite's own `query` asks for the parameters' types first
 * and calls into the database once for each message: half as much work again per statement.
 * Should the statement fail, the Sync in the same call has already ended it, and PGlite throws the
 * database's error as its `query` does.
 */
async function extendedQuery<R>(pglite: PGlite, sql: string, parameters: ReadonlyArray<unknown>) {
  const { serialize } = protocol;
  const message = Buffer.concat([
    serialize.parse({ text: sql }),
    serialize.bind({ values: parameters.map((value) => prepareValue(value) as string | Uint8Array | null) }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  // Under PGlite's own query lock: its `query` sends a statement's messages in several calls, and
  // this statement must not fall between them.
  const { messages } = await pglite._runExclusiveQuery(() => pglite.execProtocol(message));
  const [result] = parse.parseResults(messages, pglite.parsers);
  return { rows: (result?.rows ?? []) as R[], affectedRows: result?.affectedRows };
}

function commandOf(sql: string): Command {
  // Kysely only reads the command to report affected rows of INSERT/UPDATE/DELETE/MERGE.
  const match = /^\s*(\w+)/.exec(sql);
  const word = match?.[1]?.toUpperCase() as Command | undefined;
  return word && COMMANDS.includes(word) ? word : 'SELECT';
}
