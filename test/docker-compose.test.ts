/**
 * docker-compose.yml as a user runs it: the workers call the real CAMS with the host's settings unless
 * the simulator override is chosen, which then keeps its data apart. Parsed with merge keys resolved,
 * as compose reads it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Service {
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown>;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function load(file: string): ComposeFile {
  return parse(readFileSync(join(ROOT, file), 'utf8'), { merge: true }) as ComposeFile;
}

const base = load('docker-compose.yml');
const simulated = load('docker-compose.simulator.yml');
const PASSED_THROUGH = [
  'CAMS_REGION',
  'CAMS_QUEUE',
  'CAMS_RATE_LIMIT',
  'CAMS_ENDPOINT',
  'CAMS_PROTOCOL',
  'ALIBABA_CLOUD_ACCESS_KEY_ID',
  'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
  'ALIBABA_CLOUD_SECURITY_TOKEN',
  'ALIBABA_CLOUD_PROFILE',
  'ALIBABA_CLOUD_ROLE_ARN',
  'ALIBABA_CLOUD_OIDC_PROVIDER_ARN',
  'ALIBABA_CLOUD_OIDC_TOKEN_FILE',
];

describe('docker-compose.yml', () => {
  it('has no simulator and no made-up credentials', () => {
    expect(Object.keys(base.services)).not.toContain('simulator');
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(text).not.toMatch(/demo-access-key|simulated-access-key|simulator:8080/);
  });

  it.each(['worker', 'cli'])(
    'passes the CAMS settings and credentials of the host to %s, with no defaults',
    (name) => {
      const env = base.services[name]?.environment ?? {};
      for (const variable of PASSED_THROUGH) {
        expect(env).toHaveProperty(variable);
        // A variable without a value: compose copies it from the host when set there, else leaves it unset.
        expect(env[variable]).toBeNull();
      }
    },
  );

  it('publishes Redis and PostgreSQL on loopback ports that do not clash with local servers', () => {
    const ports = [...(base.services.redis?.ports ?? []), ...(base.services.postgres?.ports ?? [])];
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      expect(['6379', '5432']).not.toContain(port.split(':')[1]);
    }
  });

  it('mounts a host folder at /data for the CSV an import reads', () => {
    expect(base.services.cli?.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(base.services.cli?.profiles).toEqual(['cli']);
  });
});

describe('docker-compose.simulator.yml', () => {
  it('points the workers and the cli at the simulator, on a queue of their own', () => {
    for (const name of ['worker', 'cli']) {
      expect(simulated.services[name]?.environment).toMatchObject({
        CAMS_ENDPOINT: 'simulator:8080',
        CAMS_PROTOCOL: 'http',
        CAMS_QUEUE: 'cams-enrich-simulated',
      });
    }
    expect(simulated.services.simulator?.command?.[0]).toBe('simulator');
  });

  it('gives PostgreSQL a volume of its own, so simulated profiles never reach the real ledger', () => {
    const real = base.services.postgres?.volumes?.[0] ?? '';
    const fake = simulated.services.postgres?.volumes?.[0] ?? '';
    expect(real.split(':')[1]).toBe(fake.split(':')[1]);
    expect(fake.split(':')[0]).not.toBe(real.split(':')[0]);
    expect(Object.keys(simulated.volumes ?? {})).toContain(fake.split(':')[0]);
  });
});
