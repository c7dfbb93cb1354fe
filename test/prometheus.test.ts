// The observability path against a real Prometheus (Debian's `prometheus` package):
// a local cluster (api, scheduler, two workers: real processes) trains a small job while a
// real Prometheus scrapes every service each second and evaluates the real alert rules.
// Then every PromQL expression of every Grafana dashboard panel is evaluated through
// Prometheus' HTTP API: each must parse, and each must return data (a finite value) while
// the job runs or right after it ends. Every alert rule must parse and evaluate without
// error, and `promtool check rules` must pass.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalCluster, REPO_ROOT, startLocalCluster } from '@trainyard/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { jobsClient } from './cluster-client.js';
import { redisUrl } from './helpers.js';

const DASHBOARDS = join(REPO_ROOT, 'infra/observability/grafana/dashboards');
const RULES = join(REPO_ROOT, 'infra/observability/prometheus/rules/trainyard.rules.yml');

function which(bin: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
const PROMETHEUS = which('prometheus');
const PROMTOOL = which('promtool');
if (!PROMETHEUS) {
  console.warn(
    "test/prometheus.test.ts skipped: no `prometheus` binary (npm test installs Debian's package when run as root; else `sudo apt-get install -y prometheus`)",
  );
}

interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
}

/** Every target expression of every panel of every dashboard JSON. */
function dashboardQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))) {
    const d = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as {
      panels: { title: string; targets?: { expr?: string }[] }[];
    };
    for (const p of d.panels) {
      for (const t of p.targets ?? [])
        if (t.expr) out.push({ dashboard: file, panel: p.title, expr: t.expr });
    }
  }
  return out;
}

/** Grafana's variables as Grafana would fill them for a 1 s scrape interval. */
function substitute(expr: string, jobId: string): string {
  return expr
    .replaceAll('$__rate_interval', '10s')
    .replaceAll('$__interval', '2s')
    .replaceAll('$__range', '5m')
    .replaceAll('$job_id', jobId);
}

interface PromResult {
  readonly status: string;
  readonly error?: string;
  readonly data?: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}

const smallJob = {
  model: { family: 'mlp', hidden: [32] },
  dataset: { name: 'mnist', trainSize: 6000, testSize: 500, splitSeed: 5 },
  workers: 2,
  batchSize: 64,
  optimizer: { name: 'adam', learningRate: 0.003 },
  epochs: 5,
  seed: 3,
  checkpoint: { everySteps: 20, keepLast: 2 },
};

describe.skipIf(!PROMETHEUS)('observability with a real Prometheus', () => {
  let cluster: LocalCluster;
  let prom: ChildProcess;
  let promUrl: string;
  let jobId: string;
  /** Instant-query times: while the job ran, and just after it ended. */
  let midRun = 0;
  let afterEnd = 0;

  const query = async (expr: string, time: number): Promise<PromResult> => {
    const url = `${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}&time=${time}`;
    return (await (await fetch(url)).json()) as PromResult;
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-prom-'));
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redisUrl(),
      prefix: `prom-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'objects'),
      logDir: join(dir, 'logs'),
      env: { TRAINYARD_BACKEND: 'wasm', LOG_LEVEL: 'info' },
    });
    const target = (name: string) => new URL(cluster.services.find((s) => s.name === name)!.metricsUrl).host;
    const workers = cluster.services
      .filter((s) => s.name.startsWith('worker'))
      .map((s) => new URL(s.metricsUrl).host);
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [
        { job_name: 'trainyard-api', static_configs: [{ targets: [new URL(cluster.apiUrl).host] }] },
        { job_name: 'trainyard-scheduler', static_configs: [{ targets: [target('scheduler')] }] },
        { job_name: 'trainyard-worker', static_configs: [{ targets: workers }] },
      ],
    };
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config)); // JSON is YAML
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      PROMETHEUS!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || prom.exitCode !== null) throw new Error('prometheus did not become ready');
      await new Promise((r) => setTimeout(r, 200));
    }

    // Every target scraped once before the job starts, so rare events (the placement) are
    // seen as increases from zero, as on a cluster that was up before the job.
    while ((await query('count(up == 1)', Date.now() / 1000)).data?.result[0]?.value[1] !== '4') {
      if (Date.now() > deadline) throw new Error('prometheus did not scrape every target');
      await new Promise((r) => setTimeout(r, 200));
    }

    // Train, noting a time while it runs (with ≥ 10 s of scrapes of the running job) and
    // one just after it ends (the ended job's series linger on the workers for 60 s).
    const client = jobsClient(cluster.apiUrl);
    jobId = (await client.submit(smallJob)).id;
    let runningSince = 0;
    for (;;) {
      const job = await client.get(jobId);
      if (job.state === 'RUNNING' && (job.progress?.step ?? 0) > 0) {
        runningSince ||= Date.now();
        if (Date.now() - runningSince >= 12_000 && !midRun) midRun = Date.now() / 1000;
      }
      if (job.state === 'SUCCEEDED') break;
      if (job.state === 'FAILED' || job.state === 'CANCELLED')
        throw new Error(`job ended ${job.state}: ${JSON.stringify(job.error)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!midRun) midRun = (Date.now() - 1_500) / 1000; // a short run: its last running second
    await new Promise((r) => setTimeout(r, 3_000)); // scrapes after the end
    afterEnd = Date.now() / 1000;
  }, 180_000);

  afterAll(async () => {
    prom?.kill('SIGTERM');
    await cluster?.stop();
  }, 30_000);

  it('scrapes every Trainyard service (all targets up)', async () => {
    const up = await query('up', afterEnd);
    expect(up.status).toBe('success');
    const byJob = new Map<string, number[]>();
    for (const r of up.data!.result)
      byJob.set(r.metric.job!, [...(byJob.get(r.metric.job!) ?? []), Number(r.value[1])]);
    expect(byJob.get('trainyard-api')).toEqual([1]);
    expect(byJob.get('trainyard-scheduler')).toEqual([1]);
    expect(byJob.get('trainyard-worker')).toEqual([1, 1]);
  });

  it("the job dashboard's job_id variable lists the job", async () => {
    const job = JSON.parse(readFileSync(join(DASHBOARDS, 'trainyard-job.json'), 'utf8')) as {
      templating: { list: { name: string; definition?: string }[] };
    };
    const def = job.templating.list.find((v) => v.name === 'job_id')!.definition!;
    const m = /^label_values\((\w+), (\w+)\)$/.exec(def);
    expect(m, def).not.toBeNull();
    const url = `${promUrl}/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(m![1]!)}&start=${midRun - 60}&end=${afterEnd}`;
    const values = (await (await fetch(url)).json()) as { data: string[] };
    expect(values.data).toContain(jobId);
  });

  it('every dashboard panel query parses and returns data', async () => {
    // The harness can fail: a malformed expression is an error, an unknown metric is no data.
    expect((await query('sum(', afterEnd)).status).toBe('error');
    expect((await query('trainyard_no_such_metric', afterEnd)).data?.result).toEqual([]);
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(30);
    const problems: string[] = [];
    for (const q of queries) {
      const expr = substitute(q.expr, jobId);
      let answered = false;
      for (const time of [midRun, afterEnd]) {
        const r = await query(expr, time);
        if (r.status !== 'success') {
          problems.push(`${q.dashboard} / ${q.panel}: ${r.error} in ${expr}`);
          answered = true;
          break;
        }
        if (r.data!.result.some((s) => Number.isFinite(Number(s.value[1])))) {
          answered = true;
          break;
        }
      }
      if (!answered) problems.push(`${q.dashboard} / ${q.panel}: no data at either time for ${expr}`);
    }
    expect(problems).toEqual([]);
  });

  it('every alert rule parses, and Prometheus evaluates each without error', async () => {
    const file = parseYaml(readFileSync(RULES, 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'TrainyardJobNoProgress',
        'TrainyardRestartStorm',
        'TrainyardWorkerLost',
        'TrainyardQueueWaitHigh',
        'TrainyardNonFiniteLoss',
      ]),
    );
    for (const rule of rules) {
      const r = await query(rule.expr, afterEnd);
      expect(r.status, `${rule.alert}: ${r.error}`).toBe('success');
    }
    const loaded = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const evaluated = loaded.data.groups.flatMap((g) => g.rules);
    expect(evaluated.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const r of evaluated) expect(r.health, `${r.name}: ${r.lastError}`).toBe('ok');
    // A healthy run fires nothing but what it should: no job is stuck, no loss is NaN.
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: { alertname: string } }[] };
    };
    expect(alerts.data.alerts.map((a) => a.labels.alertname)).toEqual([]);
  });

  it.skipIf(!PROMTOOL)('promtool check rules passes', () => {
    const out = execFileSync(PROMTOOL!, ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });
});
