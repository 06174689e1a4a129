// Checks the rcos cluster dashboard in a real headless browser (Debian's chromium,
// driven by playwright-core):
//
//   node dashboard.mjs URL SCREENSHOT [--min-nodes N] [--terminate-task NAME] [--timeout-ms MS]
//
// It opens the dashboard at URL; checks that the page loads, goes live and lists at
// least N nodes (default 2) and some jobs; waits until a job it has not seen finish
// before shows as finished (the page updates itself, without a reload); clicks
// Terminate on a running job (of task NAME if given) and waits until that job shows as
// terminated; and saves a screenshot of the page at SCREENSHOT. Every wait polls the
// page and has a generous limit; nothing sleeps for a fixed time.
//
// It prints one "ok: ..." line per check and exits 0, or prints "FAIL: ..." and exits 1.
// `cargo test -p rcos-tests --all-features --test cluster_dashboard_browser` runs it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

function parseArgs(argv) {
  const positional = [];
  const options = { minNodes: 2, terminateTask: null, timeoutMs: 120_000 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--min-nodes') options.minNodes = Number(argv[++i]);
    else if (arg === '--terminate-task') options.terminateTask = argv[++i];
    else if (arg === '--timeout-ms') options.timeoutMs = Number(argv[++i]);
    else positional.push(arg);
  }
  if (positional.length !== 2 || !Number.isFinite(options.minNodes) || !Number.isFinite(options.timeoutMs)) {
    console.error('usage: node dashboard.mjs URL SCREENSHOT [--min-nodes N] [--terminate-task NAME] [--timeout-ms MS]');
    process.exit(2);
  }
  [options.url, options.screenshot] = positional;
  return options;
}

const options = parseArgs(process.argv.slice(2));
const wait = { timeout: options.timeoutMs, polling: 100 };

function ok(what) {
  console.log(`ok: ${what}`);
}

const profile = mkdtempSync(join(tmpdir(), 'rcos-dashboard-chromium-'));
let context = null;
const pageErrors = [];

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(options.timeoutMs);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });

  // The page loads and goes live.
  const response = await page.goto(options.url, { waitUntil: 'load' });
  if (!response || response.status() !== 200) {
    throw new Error(`the page answered ${response ? response.status() : 'nothing'}`);
  }
  if ((await page.title()) !== 'rcos cluster') throw new Error(`title is ${await page.title()}`);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: options.timeoutMs });
  ok('the page loads and reads the JSON API');
  // A mark that a reload would wipe out: the page must update without one.
  await page.evaluate(() => { window.rcosNoReload = true; });

  // It lists the nodes and the jobs.
  await page.waitForFunction(
    (n) => document.querySelectorAll('#nodes tbody tr').length >= n,
    options.minNodes,
    wait,
  );
  const nodes = await page.$$eval('#nodes tbody tr', (rows) =>
    rows.map((r) => `${r.dataset.node} (${r.dataset.state}, slots ${r.cells[3].textContent.trim()})`));
  ok(`it lists ${nodes.length} nodes: ${nodes.join(', ')}`);
  await page.waitForFunction(
    () => document.querySelectorAll('#running-jobs tbody tr[data-state="running"]').length > 0,
    null,
    wait,
  );
  const running = await page.$$eval('#running-jobs tbody tr', (rows) =>
    rows.map((r) => `${r.dataset.job} ${r.cells[1].textContent} on ${r.cells[2].textContent}`));
  ok(`it lists running jobs: ${running.join('; ')}`);

  // It updates as a job finishes: a job not finished at first appears as finished.
  const finishedBefore = await page.$$eval('#finished-jobs tbody tr', (rows) => rows.map((r) => r.dataset.job));
  const updatesBefore = Number(await page.getAttribute('body', 'data-updates'));
  const finished = await page.waitForFunction(
    (seen) => {
      const rows = document.querySelectorAll('#finished-jobs tbody tr[data-state="finished"]');
      for (const r of rows) {
        if (!seen.includes(r.dataset.job)) return `${r.dataset.job} ${r.cells[1].textContent} (${r.cells[5].textContent}: ${r.cells[6].textContent})`;
      }
      return false;
    },
    finishedBefore,
    wait,
  );
  const updatesAfter = Number(await page.getAttribute('body', 'data-updates'));
  if (!(await page.evaluate(() => window.rcosNoReload === true))) throw new Error('the page was reloaded');
  ok(`job ${await finished.jsonValue()} shows as finished, after ${updatesAfter - updatesBefore} updates without a reload`);

  // A terminate button ends a running job.
  const target = await page.waitForFunction(
    (task) => {
      for (const r of document.querySelectorAll('#running-jobs tbody tr[data-state="running"]')) {
        if (task === null || r.cells[1].textContent === task) return r.dataset.job;
      }
      return false;
    },
    options.terminateTask,
    wait,
  );
  const job = await target.jsonValue();
  await page.click(`#running-jobs tbody tr[data-job="${job}"] button[data-action="terminate"]`);
  await page.waitForSelector(`#finished-jobs tbody tr[data-job="${job}"][data-state="terminated"]`, {
    timeout: options.timeoutMs,
  });
  await page.waitForSelector(`#running-jobs tbody tr[data-job="${job}"]`, { state: 'detached' });
  const outcome = await page.textContent(`#finished-jobs tbody tr[data-job="${job}"] td.outcome`);
  ok(`clicking Terminate on job ${job} ends it: it shows as terminated (${outcome})`);

  if (pageErrors.length > 0) throw new Error(`the page reported errors: ${pageErrors.join(' | ')}`);
  await page.screenshot({ path: options.screenshot, fullPage: true });
  ok(`screenshot saved at ${options.screenshot}`);
} catch (e) {
  console.log(`FAIL: ${e && e.message ? e.message.split('\n')[0] : e}`);
  if (pageErrors.length > 0) console.log(`page errors: ${pageErrors.join(' | ')}`);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
