/**
 * Text as PostgreSQL can store it. A `text` column refuses NUL, and `jsonb` refuses both `\u0000` and a
 * UTF-16 surrogate without its pair (which `JSON.stringify` writes as `\ud800`): NUL becomes U+2400 `␀`,
 * the way imported rows store it, and a lone surrogate becomes U+FFFD `�`. Anything else is left as it is.
 */

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` with NUL as U+2400 and lone surrogates as U+FFFD; the same string when there is nothing to clean. */
export function storableString(text: string): string {
  const out = text.includes('\0') ? text.replace(/\0/g, '\u2400') : text;
  return out.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * A JSON value with every string, keys included, made storable by `storableString`; arrays and
 * plain objects are copied only where something changed.
 */
export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableString(value);
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const clean = storableJson(item);
      if (clean !== item) changed = true;
      return clean;
    });
    return changed ? out : value;
  }
  if (typeof value === 'object' && value !== null) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const cleanKey = storableString(key);
      const clean = storableJson(item);
      if (cleanKey !== key || clean !== item) changed = true;
      out[cleanKey] = clean;
    }
    return changed ? out : value;
  }
  return value;
}
