// Loads the agent's status page (GET /) in Debian's headless Chromium (playwright-core, with
// JavaScript off), checks what it shows against the expected counts, that no request left the
// agent's own origin, that it fits a phone's width, and saves a full-page screenshot.
//
//   node tests/browser/check_agent_page.mjs URL SCREENSHOT.png '{"backups": 1, ...}' [TOKEN]
//
// Expected (each optional): backups (table rows and markers on the timeline), windows (window
// bars), passed_drills (drill markers and "last drill passed"). Prints a one-line JSON summary;
// exits 1 with the reasons on failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [url, screenshotPath, expectedJson, token] = process.argv.slice(2);
if (!url || !screenshotPath) {
  console.error('usage: node check_agent_page.mjs URL SCREENSHOT.png [EXPECTED_JSON] [TOKEN]');
  process.exit(2);
}
const expected = JSON.parse(expectedJson || '{}');
const origin = new URL(url).origin;
const failures = [];
const external = new Set();

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 390, height: 844 },  // a phone
    extraHTTPHeaders: token ? { Authorization: `Bearer ${token}` } : {},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + '/')) return route.continue();
    external.add(u);
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response || response.status() !== 200) {
    failures.push(`GET ${url}: status ${response ? response.status() : 'none'}`);
  }
  const counts = {
    sources: await page.locator('section.source').count(),
    backups: await page.locator('table.backups tr.backup').count(),
    backup_markers: await page.locator('svg.timeline line.backup').count(),
    windows: await page.locator('svg.timeline rect.window').count(),
    passed_drills: await page.locator('svg.timeline path.drill.passed').count(),
    last_drill_passed: await page.locator('.last-drill.passed').count(),
    jobs: await page.locator('table.jobs tr.job').count(),
  };
  const want = (name, got) => {
    if (expected[name] !== undefined && got !== expected[name]) {
      failures.push(`${name}: expected ${expected[name]}, found ${got}`);
    }
  };
  want('backups', counts.backups);
  want('backups', counts.backup_markers);
  want('windows', counts.windows);
  want('passed_drills', counts.passed_drills);
  want('passed_drills', counts.last_drill_passed);
  if (counts.sources < 1) failures.push('no source section');
  // Readable on a phone: the drawing and the verdict fit the viewport's width.
  for (const selector of ['svg.timeline', 'section.source h2']) {
    const box = await page.locator(selector).first().boundingBox({ timeout: 5000 }).catch(() => null);
    if (!box || box.width < 100 || box.x < 0 || box.x + box.width > 391) {
      failures.push(`${selector} does not fit a 390 px wide screen: ${JSON.stringify(box)}`);
    }
  }
  const range = expected.windows
    ? await page.locator('.window-range').first().textContent({ timeout: 5000 }).catch(() => '')
    : '';
  if (expected.windows && !/\d{4}-\d\d-\d\dT.* \.\. \d{4}-/.test(range || '')) {
    failures.push(`the restorable window is not shown as text: ${JSON.stringify(range)}`);
  }
  fs.mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  if (external.size) failures.push(`requests that left the page: ${[...external].join(', ')}`);
  console.log(JSON.stringify({ counts, range, external: [...external], screenshot: screenshotPath }));
} catch (error) {
  failures.push(`browser: ${error.message.split('\n')[0]}`);
} finally {
  if (context) await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
