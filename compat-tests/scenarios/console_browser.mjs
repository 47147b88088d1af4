// The web console in headless Chromium, driven by playwright-core (Debian's chromium, no
// browser download): called by console.py with a broker of its own.
//
// Environment: CONSOLE_URL (http://127.0.0.1:PORT), BOOTSTRAP (the broker's Kafka address),
// SKUA_BIN (for the CLI), OUT_DIR (screenshots), TOPIC and GROUP (fresh names).
//
// Steps, each checked against the values the page shows and, for writes, against what the
// CLI then reads from the broker: the overview; a topic created in the UI (and a bad config
// edit refused with Kafka's INVALID_CONFIG, a good one applied); records produced with
// `skua produce` browsed in the UI (exact offsets, keys, values, headers; a search); a group
// that committed with `skua consume --group` shown with its lag; its offsets reset in the UI,
// dry run first (nothing committed, as the CLI confirms), then applied; the topic deleted.
// A screenshot of every page goes to OUT_DIR. Any failure prints `REASON: …` and exits 1.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`environment variable ${k} is not set`);
  return v;
};
const URL = env('CONSOLE_URL');
const BOOT = env('BOOTSTRAP');
const BIN = env('SKUA_BIN');
const OUT = env('OUT_DIR');
const TOPIC = env('TOPIC');
const GROUP = env('GROUP');
fs.mkdirSync(OUT, { recursive: true });

class Fail extends Error {}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Fail(`${what}: expected ${e}, got ${a}`);
}
function cli(args, input) {
  return execFileSync(BIN, [...args, '-b', BOOT], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30000 });
}
const cliJson = (args) => JSON.parse(cli([...args, '--output', 'json']));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.setDefaultTimeout(15000);
let shots = 0;
async function shot(name, fullPage = true) {
  await page.screenshot({ path: path.join(OUT, `${String(++shots).padStart(2, '0')}-${name}.png`), fullPage });
}
async function open(hash) {
  await page.goto(`${URL}/${hash}`);
  await page.waitForSelector('#view[data-ready]', { state: 'attached' });
}
// The texts of one column of a table (1-based column index).
const column = (tableId, n) => page.$$eval(`#${tableId} tbody tr:not(.detail) td:nth-child(${n})`, (tds) => tds.map((td) => td.textContent.trim()));
const cardValue = (k) => page.textContent(`[data-card="${k}"] .v`).then((t) => t.trim());
async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { if (await fn()) return; } catch (e) { last = e; }
    if (Date.now() > end) throw new Fail(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await page.waitForTimeout(150);
  }
}

try {
  // ---- overview ----
  await open('#/');
  const cluster = cliJson(['cluster', 'describe']);
  eq(await cardValue('Cluster id'), cluster.cluster_id, 'cluster id on the overview');
  eq(await cardValue('Brokers'), '1', 'brokers on the overview');
  eq(await column('brokers', 2), [`${cluster.brokers[0].host}:${cluster.brokers[0].port}`], 'broker address');
  await shot('overview');

  // ---- create a topic in the UI ----
  await open('#/topics');
  await page.fill('#new-topic-name', TOPIC);
  await page.fill('#new-topic-partitions', '3');
  await page.fill('#new-topic-configs', 'retention.ms=3600000');
  await shot('topics-create');
  await page.click('#new-topic-create');
  await page.waitForURL(`**/#/topics/${TOPIC}`);
  await page.waitForSelector('#partitions');
  eq(await page.textContent('h1'), TOPIC, 'topic page title');
  eq(await column('partitions', 1), ['0', '1', '2'], 'partitions of the new topic');
  const described = cliJson(['topic', 'describe', TOPIC]);
  eq(described.partitions.length, 3, 'partitions the CLI sees');
  eq(described.configs['retention.ms'], '3600000', 'retention.ms the CLI sees');
  await shot('topic');

  // ---- configs: Kafka's validation shows ----
  await page.click('.tabs >> text=Configs');
  await page.waitForSelector('#configs');
  const retention = page.locator('input[data-config="retention.ms"]');
  eq(await retention.inputValue(), '3600000', 'retention.ms in the configs tab');
  await retention.fill('not-a-number');
  await page.click('button[data-save="retention.ms"]');
  await page.waitForSelector('#config-status .alert.error');
  const refused = await page.textContent('#config-status .alert.error');
  if (!refused.includes('INVALID_CONFIG')) throw new Fail(`a bad retention.ms: expected INVALID_CONFIG, the page says ${refused}`);
  const inRow = await page.textContent('#configs .rowmsg');
  if (!inRow.includes('INVALID_CONFIG')) throw new Fail(`the edited row does not show the refusal: ${inRow}`);
  await shot('configs-refused', false);
  await page.locator('input[data-config="retention.ms"]').fill('7200000');
  await page.click('button[data-save="retention.ms"]');
  await page.waitForSelector('#config-status .alert.ok');
  eq(cliJson(['topic', 'describe', TOPIC]).configs['retention.ms'], '7200000', 'retention.ms after the edit');
  await shot('configs-saved', false);

  // ---- produce with the CLI, browse in the UI ----
  const lines = [0, 1, 2, 3, 4].map((i) => `key-${i}|{"order":${i},"item":"widget-${i}"}`).join('\n') + '\n';
  cli(['produce', TOPIC, '--partition', '0', '--key-separator', '|', '--header', 'source=cli'], lines);
  await open(`#/topics/${TOPIC}/messages?partition=0&from=oldest`);
  await page.waitForSelector('#messages');
  eq(await column('messages', 2), ['0', '1', '2', '3', '4'], 'offsets browsed');
  eq(await column('messages', 4), ['key-0', 'key-1', 'key-2', 'key-3', 'key-4'], 'keys browsed');
  eq(await column('messages', 5), [0, 1, 2, 3, 4].map((i) => `{"order":${i},"item":"widget-${i}"}`), 'values browsed');
  eq(await column('messages', 6), ['1', '1', '1', '1', '1'], 'header counts');
  await page.click('#messages tr[data-offset="2"]');
  const detail = await page.textContent('#messages tr.detail');
  for (const want of ['"order": 2', '"item": "widget-2"', 'source', 'cli']) {
    if (!detail.includes(want)) throw new Fail(`the detail of offset 2 lacks ${want}: ${detail}`);
  }
  await shot('messages');
  // Newest first, all partitions.
  await open(`#/topics/${TOPIC}/messages`);
  await page.waitForSelector('#messages');
  eq(await column('messages', 2), ['4', '3', '2', '1', '0'], 'offsets newest first');
  // A search, through the form.
  await page.fill('#msg-search', 'widget-3');
  await page.click('#msg-load');
  await until(async () => (await column('messages', 2)).join() === '3', 'the search result');
  const summary = await page.textContent('#msg-summary');
  if (!summary.includes('matching "widget-3"') || !summary.includes('reached the end')) throw new Fail(`search summary: ${summary}`);
  await shot('messages-search');

  // ---- a group's lag ----
  cli(['consume', TOPIC, '--group', GROUP, '--partition', '0', '--from-beginning', '--max-messages', '2']);
  eq(cliJson(['group', 'describe', GROUP]).offsets.map((o) => [o.partition, o.committed_offset, o.lag]), [[0, 2, 3]], 'the group as the CLI sees it');
  await open('#/groups');
  await page.waitForSelector('#groups');
  const groups = await column('groups', 1);
  const row = groups.indexOf(GROUP);
  if (row < 0) throw new Fail(`group ${GROUP} is not listed: ${groups}`);
  eq((await column('groups', 6))[row], '3', 'the lag in the group list');
  await shot('groups');
  await open(`#/groups/${GROUP}`);
  await page.waitForSelector('#offsets');
  eq(await cardValue('Total lag'), '3', 'total lag');
  eq(await cardValue('State'), 'Empty', 'group state');
  eq([await column('offsets', 2), await column('offsets', 3), await column('offsets', 4), await column('offsets', 5)],
    [['0'], ['2'], ['5'], ['3']], 'partition, committed, log end, lag');
  await page.waitForTimeout(3500); // a second lag sample for the chart
  await shot('group');

  // ---- reset offsets: dry run, then apply ----
  await page.selectOption('#reset-topic', TOPIC);
  await page.selectOption('#reset-to', 'offset');
  await page.fill('#reset-value', '4');
  await page.click('#reset-preview');
  await page.waitForSelector('#reset-plan');
  eq([await column('reset-plan', 1), await column('reset-plan', 2), await column('reset-plan', 3)],
    [['0', '1', '2'], ['2', '–', '–'], ['4', '0', '0']], 'dry run: partition, current, new');
  eq(cliJson(['group', 'describe', GROUP]).offsets.map((o) => o.committed_offset), [2], 'committed offset after the dry run');
  await shot('reset-dry-run');
  await page.click('#reset-apply');
  await page.waitForSelector('#reset-result .alert.ok');
  await until(async () => (await column('offsets', 3)).join() === '4,0,0', 'the applied offsets in the table');
  eq(await cardValue('Total lag'), '1', 'total lag after the reset');
  eq(cliJson(['group', 'describe', GROUP]).offsets.map((o) => [o.partition, o.committed_offset]), [[0, 4], [1, 0], [2, 0]], 'committed offsets the CLI sees after apply');
  await shot('reset-applied');

  // ---- delete the topic in the UI ----
  await open(`#/topics/${TOPIC}`);
  await page.click('text=Delete topic…');
  await page.fill('#delete-confirm', TOPIC);
  await page.click('#delete-go');
  await page.waitForURL('**/#/topics');
  await page.waitForSelector('#topics');
  if ((await column('topics', 1)).includes(TOPIC)) throw new Fail('the deleted topic is still listed');
  const left = cliJson(['topic', 'list']);
  if (JSON.stringify(left).includes(TOPIC)) throw new Fail(`the CLI still lists ${TOPIC}: ${JSON.stringify(left)}`);

  // ---- ACLs: this broker has no authorizer, so the page says they are off ----
  await open('#/acls');
  await page.waitForSelector('#acls-off');
  if (!(await page.textContent('#acls-off')).includes('authorizer.class.name')) throw new Fail('the ACL page does not name authorizer.class.name');
  await shot('acls-off');

  // ---- users: a SCRAM user made in the form, seen by the page and the CLI, then deleted ----
  await open('#/users');
  await page.fill('#new-user-name', 'console-user');
  await page.selectOption('#new-user-mechanism', 'SCRAM-SHA-512');
  await page.fill('#new-user-password', 'console-secret');
  await page.fill('#new-user-iterations', '8192');
  await page.click('#new-user-save');
  await until(async () => (await column('users', 1)).includes('console-user'), 'the new user in the table');
  eq([await column('users', 2), await column('users', 3)], [['SCRAM-SHA-512'], ['8,192']], 'the user row');
  eq(cliJson(['user', 'list']), [{ user: 'console-user', credentials: [{ mechanism: 'SCRAM-SHA-512', iterations: 8192 }] }], 'users the CLI sees');
  if ((await page.content()).includes('console-secret')) throw new Fail('the password shows in the page');
  await shot('users');
  page.once('dialog', (d) => d.accept());
  await page.click('#users tbody button.danger');
  await until(async () => !(await column('users', 1)).includes('console-user'), 'the deleted user gone from the table');
  eq(cliJson(['user', 'list']), [], 'users the CLI sees after the delete');

  // The overview again, with a few throughput samples.
  await open('#/');
  await page.waitForTimeout(4500);
  await shot('overview-traffic');
  if (pageErrors.length) throw new Fail(`errors in the page: ${pageErrors.join('; ')}`);
  console.log(`OK ${shots} screenshots in ${OUT}`);
  await browser.close();
} catch (e) {
  try { await shot('failure'); } catch (_) { /* the page may be gone */ }
  console.log(`REASON: ${e instanceof Fail ? '' : e.name + ': '}${e.message.split('\n')[0]}`);
  console.error(e.stack);
  await browser.close();
  process.exit(1);
}
