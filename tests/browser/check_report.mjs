// Loads a `lifeboat report --format html` page in Debian's headless Chromium (driven by
// playwright-core, with JavaScript off: the page must read without it), checks what it shows
// against the counts expected, checks that the page asked for nothing but its own file, and saves
// a full-page screenshot.
//
//   node tests/browser/check_report.mjs REPORT.html SCREENSHOT.png '{"backups": 3, ...}'
//
// Expected counts (each optional): repositories, timelines (lanes and table rows), backups
// (markers and table rows), drills (table rows), passed_drills and failed_drills (markers),
// branches (branch points drawn). `literal` is a text that must appear as text (not markup)
// inside the backups table. Prints a one-line JSON summary; exits 1 with the reasons on failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [reportPath, screenshotPath, expectedJson] = process.argv.slice(2);
if (!reportPath || !screenshotPath) {
  console.error('usage: node check_report.mjs REPORT.html SCREENSHOT.png [EXPECTED_JSON]');
  process.exit(2);
}
const expected = JSON.parse(expectedJson || '{}');
const failures = [];
const external = new Set();

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 1360, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Every request the page makes goes through here: only its own file may load.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    external.add(url);
    return route.abort();
  });
  context.on('request', (request) => {
    if (!request.url().startsWith('file:')) external.add(request.url());
  });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(pathToFileURL(path.resolve(reportPath)).href, { waitUntil: 'load' });

  const counts = {
    repositories: await page.locator('table.repositories tbody tr').count(),
    timelines: await page.locator('svg.timeline-drawing g.lane[data-timeline]').count(),
    timeline_rows: await page.locator('table.timelines tbody tr').count(),
    backups: await page.locator('table.backups tbody tr').count(),
    backup_markers: await page.locator('svg.timeline-drawing .backup-marker').count(),
    drills: await page.locator('table.drills tbody tr').count(),
    passed_drills: await page.locator('svg.timeline-drawing .drill-marker.passed').count(),
    failed_drills: await page.locator('svg.timeline-drawing .drill-marker.failed').count(),
    failed_drill_rows: await page.locator('table.drills tbody tr.failed').count(),
    branches: await page.locator('svg.timeline-drawing path.branch').count(),
    windows: await page.locator('svg.timeline-drawing rect.window').count(),
  };
  const want = (name, got) => {
    if (expected[name] !== undefined && got !== expected[name]) {
      failures.push(`${name}: expected ${expected[name]}, found ${got}`);
    }
  };
  want('repositories', counts.repositories);
  want('timelines', counts.timelines);
  want('timelines', counts.timeline_rows);
  want('backups', counts.backups);
  want('backups', counts.backup_markers);
  want('drills', counts.drills);
  want('passed_drills', counts.passed_drills);
  want('failed_drills', counts.failed_drills);
  want('failed_drills', counts.failed_drill_rows);
  want('branches', counts.branches);
  want('timelines', counts.windows);

  // Failed drills say why, in the table.
  const reasons = await page.locator('table.drills tbody tr.failed ul.reasons li').allTextContents();
  if (counts.failed_drill_rows > 0 && reasons.filter((r) => r.trim()).length < counts.failed_drill_rows) {
    failures.push(`a failed drill without a failure reason: ${JSON.stringify(reasons)}`);
  }
  // The drawing is really laid out, not collapsed.
  const box = await page.locator('svg.timeline-drawing').first().boundingBox();
  if (!box || box.width < 600 || box.height < 80) {
    failures.push(`the drawing is not laid out: ${JSON.stringify(box)}`);
  }
  // Markers inside the plot (a marker outside the viewBox would be invisible).
  const svgBox = box;
  for (const marker of await page.locator('svg.timeline-drawing .backup-marker, svg.timeline-drawing .drill-marker').all()) {
    const b = await marker.boundingBox();
    if (!b || b.x < svgBox.x || b.x + b.width > svgBox.x + svgBox.width + 1) {
      failures.push(`a marker outside the drawing: ${JSON.stringify(b)}`);
      break;
    }
  }
  if (expected.literal !== undefined) {
    const text = await page.locator('table.backups').first().textContent();
    if (!text.includes(expected.literal)) {
      failures.push(`the backups table does not show ${JSON.stringify(expected.literal)} as text`);
    }
    const injected = await page.locator('table.backups script, table.backups b, table.drills script, table.drills b').count();
    if (injected > 0) failures.push(`${injected} element(s) injected by data in the tables`);
  }
  if (pageErrors.length) failures.push(`page errors: ${pageErrors.join('; ')}`);

  fs.mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  if (external.size) failures.push(`requests that left the page: ${[...external].join(', ')}`);
  console.log(JSON.stringify({ counts, external: [...external], screenshot: screenshotPath }));
} catch (error) {
  failures.push(`browser: ${error.message.split('\n')[0]}`);
} finally {
  if (context) await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
if (failures.length) {
  for (const f of failures) console.error(`check_report: ${f}`);
  process.exit(1);
}
