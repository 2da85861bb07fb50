/**
 * Answers PostgreSQL cannot store as they come (NUL, a lone UTF-16 surrogate, in text and in `raw`):
 * the whole pipeline with real workers stores the profile cleaned, after exactly one call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { storableJson, storableString } from '../src/storable-text.js';
import type { Pipeline } from './helpers/pipeline.js';
import { startPipeline } from './helpers/pipeline.js';

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const ODD = '8613800001234';

/** `Data` with a NUL, lone surrogates of both kinds and a control character, in values, arrays and a key. */
function oddProfile(): Record<string, unknown> {
  return {
    Vertical: 'Retail\u0000\n',
    Description: 'Lotus \ud83d Trading\n',
    Email: 'a\udc00b@example.com',
    Address: ' 1 Market Street\u0000 ',
    ProfilePictureUrl: 'https://img.example.com/p.jpg',
    Websites: ['https://a.example.com\u0000', 'https://b.example.com/\ud800'],
    About: 'ok \u001b[31m red',
    'Odd\u0000Key': { nested: ['\udbff'] },
  };
}

describe('storableString()', () => {
  it('turns NUL into U+2400 and lone surrogates into U+FFFD, and keeps pairs and other text', () => {
    expect(storableString('a\u0000b')).toBe('a\u2400b');
    expect(storableString('x\ud800')).toBe('x\ufffd');
    expect(storableString('\udc00x')).toBe('\ufffdx');
    expect(storableString('\udc00\ud800')).toBe('\ufffd\ufffd');
    expect(storableString('smile \ud83d\ude00')).toBe('smile \ud83d\ude00');
    expect(storableString('\u001b[31m')).toBe('\u001b[31m');
  });

  it('returns JSON values untouched when nothing needs cleaning', () => {
    const value = { a: ['b', 1, null, { c: true }] };
    expect(storableJson(value)).toBe(value);
  });
});

describe('an answer holding text PostgreSQL refuses', () => {
  it('is stored cleaned, in the columns and in raw, after one call', async () => {
    p = await startPipeline({
      rate: 50,
      simulator: { profile: (phone) => (phone === ODD ? oddProfile() : { Vertical: 'Other' }) },
    });
    const file = await p.csv('odd.csv', `phone\n+${ODD}\n+6591234567\n`);
    const runId = await p.importFile(file);
    p.startWorkers(1);
    const status = await p.waitFinished(runId);
    expect(status).toMatchObject({ enriched: 2, failed: 0, pending: 0 });
    expect(p.sim.counters().okByNumber).toEqual({ [ODD]: 1, '6591234567': 1 });

    const { rows } = await p.pool.query<Record<string, unknown>>(
      `SELECT vertical, description, email, address, websites, about, raw
       FROM business_profiles WHERE cust_space_id = 'S1' AND phone_number = $1`,
      [ODD],
    );
    expect(rows).toEqual([
      {
        vertical: 'Retail\u2400',
        description: 'Lotus \ufffd Trading',
        email: 'a\ufffdb@example.com',
        address: '1 Market Street\u2400',
        websites: ['https://a.example.com\u2400', 'https://b.example.com/\ufffd'],
        about: 'ok \u001b[31m red',
        raw: {
          Vertical: 'Retail\u2400\n',
          Description: 'Lotus \ufffd Trading\n',
          Email: 'a\ufffdb@example.com',
          Address: ' 1 Market Street\u2400 ',
          ProfilePictureUrl: 'https://img.example.com/p.jpg',
          Websites: ['https://a.example.com\u2400', 'https://b.example.com/\ufffd'],
          About: 'ok \u001b[31m red',
          'Odd\u2400Key': { nested: ['\ufffd'] },
        },
      },
    ]);
  });
});
