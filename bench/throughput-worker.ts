/**
 * One worker process against a CAMS double with no latency and no effective limit: numbers settled per
 * second over a whole run, next to the CAMS client alone calling the same double at the same concurrency
 * (the ceiling the double and the client's signing allow on this machine). The double runs in a child
 * process, as CAMS would be another machine.
 */
import { accessKeyAccount } from '../src/cams/account.js';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startEnrichWorker } from '../workers/worker.js';
import { createCamsClient } from '../src/cams/cams-client.js';
import { loadConfig, Secret } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/log.js';
import { createFeeder } from '../src/queue/feeder.js';
import type { EnrichJobData } from '../src/queue/queue.js';
import { queueStoreOpener } from '../src/connections.js';
import { importCsv } from '../src/runs/csv-import.js';
import { runStatus } from '../src/runs/status.js';
import type { Line } from './throughput-support.js';
import { stockWay } from './stock-gate.js';
import { benchDatabase, timed, writeNumbersCsv } from './throughput-support.js';

const NO_LIMIT = 1_000_000;

async function startDouble(
  accessKeyId: string,
  accessKeySecret: string,
): Promise<{ endpoint: string; child: ChildProcess }> {
  const module = new URL('../src/simulator/simulator.js', import.meta.url).href;
  const code = `
    import { startSimulator } from ${JSON.stringify(module)};
    const [id, secret] = (await new Promise((r) => process.stdin.once('data', r))).toString().trim().split(' ');
    const sim = await startSimulator({ accessKeyId: id, accessKeySecret: secret, rate: ${NO_LIMIT} });
    process.stdout.write(sim.endpoint + '\\n');
    process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.write(`${accessKeyId} ${accessKeySecret}\n`);
  const [endpoint] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { endpoint, child };
}

export async function measureWorker(numbers: number, concurrency: number): Promise<Line[]> {
  const config = loadConfig();
  const log = createLogger({ level: 'silent' });
  const accessKeyId = `LTAIbench${randomBytes(4).toString('hex')}`;
  const accessKeySecret = randomBytes(15).toString('base64url');
  const double = await startDouble(accessKeyId, accessKeySecret);
  const db = await benchDatabase(log);
  const pool = createPool(db.url, log, { max: 16 });
  const openStore = queueStoreOpener(config, log, pool);
  const store = openStore('producer');
  await store.ready();
  const queueName = `bench-${randomBytes(6).toString('hex')}`;
  const queue = store.queue<EnrichJobData>(queueName);
  const dir = await mkdtemp(join(tmpdir(), 'cams-enrich-bench-'));
  const cams = createCamsClient({
    credentials: { accessKeyId, accessKeySecret: new Secret(accessKeySecret) },
    endpoint: double.endpoint,
    protocol: 'http',
    regionId: 'ap-southeast-1',
    connectTimeoutMs: 5000,
    readTimeoutMs: 10000,
  });
  try {
    // Reference: the client alone, `concurrency` calls in flight, as many calls as the run has numbers.
    let next = 0;
    const reference = await timed(() =>
      Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < numbers) {
            const i = next++;
            await cams.queryPhoneBusinessProfile({
              custSpaceId: 'ref',
              phoneNumber: `8615${String(i).padStart(9, '0')}`,
            });
          }
        }),
      ),
    );

    const file = join(dir, 'worker.csv');
    await writeNumbersCsv(file, numbers);
    const { runId } = await importCsv(pool, log, {
      file,
      queue: queueName,
      space: 'bench',
      defaultCountry: 'CN',
      maxAgeMs: 0,
    });
    await createFeeder({ pool, queue, log, highWater: numbers, jobOptions: { attempts: 3 } }).fill();
    const workerStore = openStore('worker', concurrency + 4);
    const measured = await timed(async () => {
      const worker = startEnrichWorker({
        queueName,
        store: workerStore,
        pool,
        log,
        ratePerSecond: NO_LIMIT,
        account: accessKeyAccount(accessKeyId),
        attempts: 3,
        concurrency,
        highWater: numbers,
        // BullMQ's limiter at NO_LIMIT (limiterFor) and no shared call window: nothing holds a call back.
        ...stockWay(cams, (ms) => queue.rateLimit(ms)),
      });
      for (;;) {
        const s = await runStatus(pool, runId);
        if (s.finished) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      return worker;
    });
    await measured.value.close();
    await workerStore.close();
    const s = await runStatus(pool, runId);
    if (s.enriched !== numbers) throw new Error(`worker bench: ${s.enriched} of ${numbers} enriched`);
    const rate = Math.round(numbers / measured.seconds);
    const refRate = Math.round(numbers / reference.seconds);
    return [
      {
        figure: `one worker, concurrency ${concurrency}, limit and latency off: a run of ${numbers.toLocaleString('en-US')} numbers`,
        value: `${measured.seconds.toFixed(2)} s (${rate.toLocaleString('en-US')} numbers/s)`,
        reference: `CAMS client alone, same double and concurrency: ${refRate.toLocaleString('en-US')} calls/s`,
        ratio: `${(rate / refRate).toFixed(2)} of the client alone`,
      },
    ];
  } finally {
    await store.discardQueue(queue).catch(() => undefined);
    await queue.close();
    await store.close();
    await pool.end();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
    double.child.kill('SIGTERM');
  }
}
