/**
 * The gate every CAMS call passes, as the processor (`workers/enrich.ts`) uses it. The fleet's rate
 * controller (`rate-controller.ts`) is the one production gate.
 */
export interface CallGate {
  /**
   * Resolves when this process may make one call; `signal` gives up waiting. `priority` is the calling
   * job's BullMQ priority (a smaller number goes first; none is 0, the best): the rate controller lets
   * the fleet's calls of better priorities go first.
   */
  acquire(signal?: AbortSignal, priority?: number): Promise<void>;
  /** A throttle came back (`retryAfterMs`: CAMS's hint, when it sent one); the call is then tried again. */
  throttled(retryAfterMs?: number): Promise<{ kind: string; pauseMs: number }>;
  /** The endpoint could not be reached (refused, DNS, TLS); the call is then tried again. */
  unreachable(): Promise<{ pauseMs: number; raiseAlert: boolean; downForMs: number }>;
  /** The endpoint answered after `unreachable`; true when an endpoint-down alert should be cleared. */
  reachable(): Promise<boolean>;
}
