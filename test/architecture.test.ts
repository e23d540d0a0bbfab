/**
 * The shape of the code, checked: no import circle anywhere in the server's sources, and no module
 * reading or writing another module's tables. See docs/architecture.md for the modules and who
 * owns what.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Every table, by the module that owns it: only that module's files name it in a query. */
export const TABLE_OWNERS: Readonly<Record<string, string>> = {
  schema_migration: 'platform',
  instance: 'platform',
  work_lease: 'platform',
  partition: 'objects',
  application: 'objects',
  privilege_grant: 'access',
  app_user: 'identity',
  api_token: 'identity',
  web_session: 'identity',
  ssh_public_key: 'identity',
  sign_in_lock: 'identity',
  oidc_sign_in: 'identity',
  oidc_identity: 'identity',
  event: 'eventlog',
  event_tree_node: 'eventlog',
  checkpoint: 'eventlog',
  checkpoint_cosignature: 'eventlog',
  siem_export: 'eventlog',
  audit_rule: 'auditing',
  audit_rule_generation: 'auditing',
  audit_entry: 'auditing',
  audit_filter: 'auditing',
  navigation_item: 'auditing',
  device: 'inventory',
  credential: 'inventory',
  access_group: 'changes',
  change: 'changes',
  access_request: 'changes',
  request_decision: 'changes',
  notice: 'notifications',
  notification: 'notifications',
  webhook: 'notifications',
  notification_delivery: 'notifications',
  change_review: 'review',
  deviation_subscription: 'review',
  session: 'sessions',
  session_command: 'sessions',
  recording_chunk: 'sessions',
  command_decision: 'sessions',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.ts$/.test(entry.name) && !/\.test\.ts$|\.testing\.ts$|\.test-kit\.ts$/.test(entry.name) ? [file] : [];
  });
}

const moduleOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]?.replace(/\.ts$/, '') ?? '';
const files = sourceFiles(SRC);

/** The import graph of the server's sources: relative imports, type-only ones included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    graph.set(
      file,
      importedFiles.filter((imported) => imported.fileName.startsWith('.')).map((imported) => path.resolve(path.dirname(file), imported.fileName)),
    );
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan): each is an import circle. */
function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file) as number, index.get(next) as number));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(path.relative(SRC, member));
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

/** `module/file.ts → table` for each query naming a table of another module (Kysely calls and SQL text). */
function foreignTableUses(sources: ReadonlyArray<readonly [file: string, source: string]> = files.map((file) => [file, readFileSync(file, 'utf8')])): string[] {
  const tables = Object.keys(TABLE_OWNERS).join('|');
  const kysely = new RegExp(`(?:selectFrom|insertInto|updateTable|deleteFrom|mergeInto|innerJoin|leftJoin|rightJoin|fullJoin|with)\\(\\s*'(${tables})(?:\\s+as\\s+\\w+)?'`, 'g');
  const text = new RegExp(`\\b(?:FROM|JOIN|INTO|UPDATE)\\s+(${tables})\\b`, 'g');
  const uses = new Set<string>();
  for (const [file, source] of sources) {
    const owner = moduleOf(file);
    for (const pattern of [kysely, text]) {
      for (const match of source.matchAll(pattern)) {
        const table = match[1] as string;
        if (TABLE_OWNERS[table] !== owner) uses.add(`${path.relative(SRC, file)} → ${table}`);
      }
    }
  }
  return [...uses].sort();
}

describe('the shape of the code', () => {
  it('has no import circle', () => {
    expect(circles(importGraph())).toEqual([]);
  });

  it('has no circle between modules either: dependencies go one way', () => {
    const modules = new Map<string, string[]>();
    for (const [file, imports] of importGraph()) {
      const from = path.join(SRC, moduleOf(file));
      modules.set(from, [...new Set([...(modules.get(from) ?? []), ...imports.map((imported) => path.join(SRC, moduleOf(imported))).filter((to) => to !== from)])]);
    }
    expect(circles(modules)).toEqual([]);
  });

  it('registers routes only in the composition root, and no index.ts exports them', () => {
    const routeImports = [...importGraph()].flatMap(([file, imports]) =>
      imports.filter((imported) => imported.endsWith('.routes.ts') && moduleOf(imported) !== moduleOf(file) && path.relative(SRC, file) !== 'changegate.ts').map((imported) => `${path.relative(SRC, file)} → ${path.relative(SRC, imported)}`),
    );
    expect(routeImports).toEqual([]);
    const barrels = files.filter((file) => path.basename(file) === 'index.ts');
    expect(barrels.filter((barrel) => /routes\.ts'/.test(readFileSync(barrel, 'utf8'))).map((barrel) => path.relative(SRC, barrel))).toEqual([]);
  });

  it('detects an import circle when there is one', () => {
    const a = path.join(SRC, 'a.ts');
    const b = path.join(SRC, 'b.ts');
    expect(circles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts']]);
  });

  it('owns every table in one module', () => {
    const schema = ['platform/database-schema.ts', ...readdirSync(path.join(SRC, 'platform/tables')).map((name) => `platform/tables/${name}`)];
    const declared = schema.flatMap((file) => [...readFileSync(path.join(SRC, file), 'utf8').matchAll(/^ {2}([a-z_]+): [A-Z]\w*Table;$/gm)].map((match) => match[1] as string));
    expect(declared.sort()).toEqual(Object.keys(TABLE_OWNERS).sort());
  });

  it('queries a table only in the module that owns it', () => {
    expect(foreignTableUses()).toEqual([]);
  });

  it('detects a query naming another module\'s table, in Kysely and in SQL text', () => {
    const review = path.join(SRC, 'review', 'x.store.ts');
    const source = "db.selectFrom('session').selectAll(); db.selectFrom('change_review'); sql`SELECT 1 FROM access_request`";
    expect(foreignTableUses([[review, source]])).toEqual(['review/x.store.ts → access_request', 'review/x.store.ts → session']);
  });
});
