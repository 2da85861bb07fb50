/**
 * What a migration file says about how it runs. A migration is one transaction unless its first line
 * is `--! no-transaction`: then its statements run one by one outside a transaction (what
 * `CREATE INDEX CONCURRENTLY` needs), and since no search_path can be set for a statement outside a
 * transaction through a transaction pooler, they name the ledger's tables `:LEDGER_SCHEMA.table`.
 */
import pg from 'pg';
import { AppError } from '../errors.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const NO_TRANSACTION = /^--!\s*no-transaction\s*$/;
const PLACEHOLDER = /:LEDGER_SCHEMA\b/g;
/** `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON table`, as written in a statement. */
const CONCURRENT_INDEX =
  /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+ON\s+(?:ONLY\s+)?((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))?)/i;

/** Whether the migration declares `--! no-transaction` on its first line. */
export function runsOutsideTransaction(m: Migration): boolean {
  return NO_TRANSACTION.test(m.sql.split('\n', 1)[0]!.trim());
}

/** The migration's text with `:LEDGER_SCHEMA` replaced by the ledger's schema, quoted as an identifier. */
export function withLedgerSchema(sql: string, schema: string): string {
  return sql.replace(PLACEHOLDER, pg.escapeIdentifier(schema));
}

/**
 * The statements of a migration, split at the semicolons that end them (not those inside quotes,
 * quoted identifiers, dollar-quoted bodies or comments); comments and empty statements are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i);
    if (rest.startsWith('--')) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      current += '\n';
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      current += ' ';
      continue;
    }
    const dollar = /^\$([A-Za-z_][\w]*)?\$/.exec(rest);
    if (dollar) {
      const end = sql.indexOf(dollar[0], i + dollar[0].length);
      const stop = end === -1 ? sql.length : end + dollar[0].length;
      current += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2;
          else break;
        } else j += 1;
      }
      current += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ';') {
      if (current.trim() !== '') statements.push(current.trim());
      current = '';
      i += 1;
      continue;
    }
    current += c;
    i += 1;
  }
  if (current.trim() !== '') statements.push(current.trim());
  return statements;
}

export interface ConcurrentIndex {
  /** The index's name as written (quoted or not). */
  name: string;
  /** The table as written, schema-qualified or not. */
  table: string;
}

/**
 * The index a `CREATE INDEX CONCURRENTLY` statement builds, or undefined for another statement. One
 * without `IF NOT EXISTS` is refused: a migration outside a transaction may run again after an
 * interruption, and each of its statements must then be a no-op or finish the work.
 */
export function concurrentIndex(m: Migration, statement: string): ConcurrentIndex | undefined {
  const match = CONCURRENT_INDEX.exec(statement);
  if (!match) return undefined;
  if (!match[1]) {
    throw new AppError(
      'MIGRATION_FAILED',
      `migration ${m.name}: CREATE INDEX CONCURRENTLY ${match[2]} must say IF NOT EXISTS (the migration may run again after an interruption)`,
    );
  }
  return { name: match[2]!, table: match[3]! };
}
