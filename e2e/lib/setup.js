import { before, after } from 'node:test';
import { Server } from './server.js';
import { launch } from './browser.js';

// serverAndBrowser starts a votecast server and Chromium before a file's
// tests and stops both after them; use is handed the two once started.
export function serverAndBrowser(use) {
  let server;
  let browser;
  before(async () => {
    server = await new Server().start();
    browser = await launch();
    use(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}
