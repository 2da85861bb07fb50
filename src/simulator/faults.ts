/**
 * Fault injection for the simulator: rules that answer some calls with a CAMS error, a 5xx, a slow
 * answer or no answer at all. Rules are tried in order; the first that fires answers the call.
 */

/** The error codes of the QueryPhoneBusinessProfile reference. */
export const CAMS_ERROR_CODES = [
  'Product.Unsubscript',
  'Ram.PermissionDeny',
  'System.LimitControl',
  'Unknown.ResourceOwnerId',
] as const;
export type CamsErrorCode = (typeof CAMS_ERROR_CODES)[number];

export const CAMS_ERROR_MESSAGES: Record<CamsErrorCode, string> = {
  'Product.Unsubscript': 'You have not subscribed to the specified product.',
  'Ram.PermissionDeny': 'You are not authorized to perform the operation.',
  'System.LimitControl': 'The system is under flow control.',
  'Unknown.ResourceOwnerId': 'The resource does not belong to the current user.',
};

export type FaultAnswer =
  /** A CAMS error: HTTP 400 with the error JSON, or HTTP 200 with `Success: false`. */
  | { kind: 'error'; code: CamsErrorCode; form: 'http400' | 'http200' }
  /** A server-side failure with its JSON body (`InternalError`, `BadGateway`, `ServiceUnavailable`). */
  | { kind: 'http'; status: 500 | 502 | 503 }
  /** The normal answer, after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** No answer until the client gives up or the simulator closes. */
  | { kind: 'hang' };

export interface FaultRule {
  answer: FaultAnswer;
  /** Phone numbers the rule applies to (a RegExp or its source). Default: every number. */
  match?: RegExp | string;
  /** Chance in [0, 1] that a matching call is hit. Default 1. */
  probability?: number;
  /** Seed of the rule's random draws, for reproducible runs. Default: a random seed. */
  seed?: number;
  /** Fire at most this many times. Default: no limit. */
  times?: number;
  /** Whether `times` counts for the whole rule (default) or separately for each phone number. */
  timesPer?: 'rule' | 'number';
}

/** mulberry32: small, fast, good enough for fault draws. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Most phone numbers a `timesPer: 'number'` rule remembers (oldest forgotten first). */
const MAX_TRACKED_NUMBERS = 100_000;

interface RuleState {
  rule: FaultRule;
  match: RegExp | undefined;
  random: () => number;
  fired: number;
  firedByNumber: Map<string, number>;
}

/** Checks a rule's values; throws a RangeError naming the problem. */
export function validateFaultRule(rule: FaultRule): void {
  const p = rule.probability;
  if (p !== undefined && !(p >= 0 && p <= 1))
    throw new RangeError(`fault probability must be in [0, 1] (got ${p})`);
  const t = rule.times;
  if (t !== undefined && !(Number.isInteger(t) && t >= 0))
    throw new RangeError(`fault times must be a whole number (got ${t})`);
  const a = rule.answer;
  if (a.kind === 'error' && !CAMS_ERROR_CODES.includes(a.code))
    throw new RangeError(`unknown error code ${String(a.code)}`);
  if (a.kind === 'http' && ![500, 502, 503].includes(a.status))
    throw new RangeError(`fault status must be 500, 502 or 503`);
  if (a.kind === 'slow' && !(Number.isFinite(a.delayMs) && a.delayMs >= 0)) {
    throw new RangeError(`slow fault needs a delay in ms (got ${a.delayMs})`);
  }
  if (typeof rule.match === 'string') new RegExp(rule.match);
}

/** Decides, call by call, which fault (if any) answers. State is per instance. */
export class FaultInjector {
  readonly #states: RuleState[];

  constructor(rules: readonly FaultRule[] = []) {
    this.#states = rules.map((rule) => {
      validateFaultRule(rule);
      return {
        rule,
        match:
          rule.match === undefined
            ? undefined
            : typeof rule.match === 'string'
              ? new RegExp(rule.match)
              : rule.match,
        random: seededRandom(rule.seed ?? Math.floor(Math.random() * 2 ** 32)),
        fired: 0,
        firedByNumber: new Map(),
      };
    });
  }

  /** The answer for a call on `phoneNumber`, or undefined for a normal answer. */
  pick(phoneNumber: string): FaultAnswer | undefined {
    for (const s of this.#states) {
      if (s.match) {
        s.match.lastIndex = 0;
        if (!s.match.test(phoneNumber)) continue;
      }
      const perNumber = s.rule.timesPer === 'number';
      const firedSoFar = perNumber ? (s.firedByNumber.get(phoneNumber) ?? 0) : s.fired;
      if (s.rule.times !== undefined && firedSoFar >= s.rule.times) continue;
      if (s.rule.probability !== undefined && s.rule.probability < 1 && s.random() >= s.rule.probability)
        continue;
      s.fired += 1;
      if (perNumber) {
        s.firedByNumber.delete(phoneNumber);
        s.firedByNumber.set(phoneNumber, firedSoFar + 1);
        if (s.firedByNumber.size > MAX_TRACKED_NUMBERS) {
          const oldest = s.firedByNumber.keys().next();
          if (!oldest.done) s.firedByNumber.delete(oldest.value);
        }
      }
      return s.rule.answer;
    }
    return undefined;
  }
}

/**
 * Parses the command line form of a rule:
 *
 *   ANSWER [%PERCENT] [xCOUNT[/number]] [#SEED] [@REGEX]
 *
 * ANSWER is an error code (`Unknown.ResourceOwnerId`, HTTP 400), the same with `:200` (HTTP 200,
 * `Success: false`), `http500`, `http502`, `http503`, `slow:MS` or `hang`. Modifiers come in any order
 * before `@`; everything after the first `@` is the phone-number RegExp.
 * Examples: `Unknown.ResourceOwnerId@^8613900000`, `http503%5#42`, `slow:3000@^55`, `http503x2/number`.
 */
export function parseFaultRule(text: string): FaultRule {
  const at = text.indexOf('@');
  const head = at === -1 ? text.trim() : text.slice(0, at).trim();
  const regex = at === -1 ? undefined : text.slice(at + 1);
  const codes = CAMS_ERROR_CODES.map((c) => c.replace('.', '\\.')).join('|');
  const m = new RegExp(`^(hang|http50[023]|slow:\\d+|(?:${codes})(?::(?:200|400))?)(.*)$`).exec(head);
  if (!m) {
    throw new RangeError(
      `cannot read fault '${text}': it must start with hang, http500, http502, http503, slow:MS or one of ${CAMS_ERROR_CODES.join(', ')} (optionally :200)`,
    );
  }
  const rule: FaultRule = { answer: parseAnswer(m[1] ?? '', text) };
  let rest = m[2] ?? '';
  while (rest !== '') {
    const mod = /^(?:%(\d+(?:\.\d+)?)|x(\d+)(\/number)?|#(\d+))/.exec(rest);
    if (!mod)
      throw new RangeError(`cannot read fault '${text}' at '${rest}': expected %PERCENT, xCOUNT or #SEED`);
    if (mod[1] !== undefined) rule.probability = Number(mod[1]) / 100;
    if (mod[2] !== undefined) {
      rule.times = Number(mod[2]);
      if (mod[3] !== undefined) rule.timesPer = 'number';
    }
    if (mod[4] !== undefined) rule.seed = Number(mod[4]);
    rest = rest.slice(mod[0].length);
  }
  if (regex !== undefined) {
    if (regex === '') throw new RangeError(`fault '${text}' has an empty pattern after '@'`);
    try {
      rule.match = new RegExp(regex);
    } catch {
      throw new RangeError(`fault '${text}': '${regex}' is not a valid regular expression`);
    }
  }
  validateFaultRule(rule);
  return rule;
}

function parseAnswer(token: string, text: string): FaultAnswer {
  if (token === 'hang') return { kind: 'hang' };
  if (token.startsWith('http')) return { kind: 'http', status: Number(token.slice(4)) as 500 | 502 | 503 };
  if (token.startsWith('slow:')) return { kind: 'slow', delayMs: Number(token.slice(5)) };
  const [code, status] = token.split(':');
  const known = CAMS_ERROR_CODES.find((c) => c === code);
  if (known === undefined) throw new RangeError(`fault '${text}': unknown error code '${code}'`);
  return { kind: 'error', code: known, form: status === '200' ? 'http200' : 'http400' };
}
