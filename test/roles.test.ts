/**
 * Least privilege with the queue in Redis: `migrate` by the schema's owner (owner of the ledger's
 * schema, CREATE on public, nothing on the database), then a worker and an import by a role with data
 * privileges only, granted with the statements of docs/production.md. The queue on PostgreSQL:
 * roles-postgres.test.ts.
 */
import { afterEach, beforeAll, describe, it } from 'vitest';
import { assertBuilt } from './helpers/processes.js';
import { enrichedByWorkersRole, refusedOnLedgerBehind, rolesFixture } from './helpers/roles.js';

const { queueStore } = { queueStore: 'redis' } as const;
const fx = rolesFixture();

beforeAll(assertBuilt);
afterEach(() => fx.cleanup());

describe('least-privilege roles, the queue in Redis', () => {
  it(
    'migrate as the owner, then a worker and an import as a role with data privileges only: every number enriched once',
    () => enrichedByWorkersRole(fx, queueStore),
    180_000,
  );

  it(
    'a role with data privileges only, on a schema that is behind: exit 2, saying to run migrate',
    () => refusedOnLedgerBehind(fx, queueStore),
    120_000,
  );
});
