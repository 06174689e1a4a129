// Checks the rendered book in a real browser (Debian's chromium, driven by
// playwright-core): the front page and one chapter render — title, sidebar, a code
// block, a diagram — and the search box finds a word.
//
// Usage (from the repository root, after `mdbook build book`):
//     node tests/browser/book.mjs [BOOK_DIR]          (default: book/book)
// Environment: CHROMIUM (default /usr/bin/chromium).
// Exit status 0 when every check passes; 1, with the reason, when one fails.

import { createServer } from 'node:http';
import { mkdtempSync, rmSync, statSync, createReadStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, extname, sep } from 'node:path';
import { chromium } from 'playwright-core';

const BOOK = resolve(process.argv[2] ?? 'book/book');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PATIENCE_MS = 15_000;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves the book's files on 127.0.0.1 at a free port; resolves to the server. */
function serve(root) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    let file = join(root, path);
    if (!file.startsWith(root + sep) && file !== root) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const failures = [];
function check(condition, what) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${what}`);
  if (!condition) failures.push(what);
}

/** Loads `path` and checks what every page of the book must have. */
async function page_renders(page, base, path, title, code_snippet) {
  const errors = [];
  const on_error = (error) => errors.push(String(error));
  page.on('pageerror', on_error);
  const response = await page.goto(base + path, { waitUntil: 'load' });
  path = path || 'the front page';
  check(response && response.ok(), `${path}: HTTP ${response && response.status()}`);
  check((await page.title()) === `${title} - rcos`, `${path}: the title is "${title} - rcos" (got "${await page.title()}")`);
  const h1 = await page.locator('main h1').first().textContent({ timeout: PATIENCE_MS });
  check(h1 && h1.trim() === title, `${path}: the heading is "${title}"`);
  // The table of contents is filled in by mdBook's script: wait for it.
  const sidebar = page.locator('#mdbook-sidebar a[href$="runtime-semantics.html"]');
  await sidebar.first().waitFor({ state: 'attached', timeout: PATIENCE_MS }).catch(() => {});
  check((await sidebar.count()) > 0, `${path}: the sidebar lists the chapters`);
  const chapters = await page.locator('#mdbook-sidebar a[href$=".html"]').count();
  check(chapters >= 20, `${path}: the sidebar has ${chapters} chapter links (at least 20)`);
  if (code_snippet !== null) {
    const code = page.locator('main pre code.language-rust');
    check((await code.count()) > 0, `${path}: a Rust code block is shown`);
    const texts = await code.allTextContents();
    check(texts.some((t) => t.includes(code_snippet)), `${path}: a code block contains "${code_snippet}"`);
    // Highlighting ran: highlight.js marks keywords.
    check((await page.locator('main pre code .hljs-keyword').count()) > 0, `${path}: the code is highlighted`);
  }
  check(errors.length === 0, `${path}: no script errors ${errors.join('; ')}`);
  page.off('pageerror', on_error);
}

/** Checks that the image `src` on the current page has loaded. */
async function image_loads(page, src) {
  const img = page.locator(`main img[src="${src}"]`).first();
  const width = await img.evaluate((i) => (i.complete ? i.naturalWidth : 0));
  check(width > 0, `${src} is shown (${width} px wide)`);
}

async function main() {
  if (!existsSync(join(BOOK, 'index.html'))) {
    console.error(`book.mjs: no rendered book at ${BOOK} (run \`mdbook build book\` first)`);
    return 1;
  }
  const server = await serve(BOOK);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const profile = mkdtempSync(join(tmpdir(), 'rcos-book-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
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
    // Nothing outside the local server: the book must not need the network.
    await context.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(PATIENCE_MS);

    // The front page.
    await page_renders(page, base, '', 'Introduction', '#[task]');
    await image_loads(page, 'images/architecture.svg');

    // Chapters: one of the guide, with code; one of the reference, with diagrams.
    await page_renders(page, base, 'tasks.html', 'Tasks', 'async fn tally');
    await page_renders(page, base, 'runtime-semantics.html', 'Runtime semantics', null);
    await image_loads(page, 'images/nodes.svg');

    // The search box: open it, type, and wait for results that link to chapters.
    await page.locator('#mdbook-search-toggle').click();
    const bar = page.locator('#mdbook-searchbar');
    await bar.waitFor({ state: 'visible' });
    // The search runs on a key going up, once the index (a script of a few MB, loaded
    // when the box opens) is in: wait for the index, then type the word as a user does.
    // On a loaded machine the index can take a while to parse.
    await page.waitForFunction(
      () => window.search !== undefined && document.getElementById('mdbook-search-index') !== null,
      null, { timeout: 4 * PATIENCE_MS });
    await bar.fill('');
    await bar.pressSequentially('supervisor');
    const results = page.locator('#mdbook-searchresults li a');
    await results.first().waitFor({ state: 'visible', timeout: PATIENCE_MS }).catch(() => {});
    const count = await results.count();
    check(count > 0, `searching "supervisor" shows ${count} results`);
    const hrefs = await results.evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    check(hrefs.some((h) => h && h.startsWith('monitors-supervision.html')),
      'a search result leads to the chapter on supervision');
    const header = (await page.locator('#mdbook-searchresults-header').textContent()) ?? '';
    check(/result/i.test(header), `the results header says "${header.trim()}"`);
  } finally {
    if (context) await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`book.mjs: ${failures.length} check(s) failed`);
    return 1;
  }
  console.log('book.mjs: the book renders and its search works');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`book.mjs: ${error.stack ?? error}`);
    process.exit(1);
  },
);
