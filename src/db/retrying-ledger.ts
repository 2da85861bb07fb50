import type { Ledger } from './ledger.js';
import type { DatabaseRetryOptions } from './retry.js';
import { retryDatabase } from './retry.js';

/**
 * The ledger with every operation retried through a database blip. Each one is a single transaction
 * (rolled back whole when the connection dies), so running it again is safe; a profile fetched from
 * CAMS is kept in memory and written again rather than fetched again.
 */
export function retryingLedger(ledger: Ledger, options: DatabaseRetryOptions = {}): Ledger {
  return {
    checkPending: (key) => retryDatabase(() => ledger.checkPending(key), options),
    recordProfile: (key, profile, since) =>
      retryDatabase(() => ledger.recordProfile(key, profile, since), options),
    settleFromStore: (key) => retryDatabase(() => ledger.settleFromStore(key), options),
    recordFailure: (key, code, message, opts) =>
      retryDatabase(() => ledger.recordFailure(key, code, message, opts), options),
  };
}
