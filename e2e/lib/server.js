// server: starts a real `votecast serve` for a test, on 127.0.0.1 and a
// free port, with its own data directory and admin token, and stops or
// restarts it on the same port and data. The JS client's tests
// (clients/js/test) use it too.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// binary returns the votecast binary: $VOTECAST_BIN (e2e/run builds it),
// or one built here on first use.
let built = '';
export function binary() {
  if (process.env.VOTECAST_BIN) return process.env.VOTECAST_BIN;
  if (!built) {
    built = path.join(mkdtempSync(path.join(os.tmpdir(), 'votecast-bin-')), 'votecast');
    execFileSync('go', ['build', '-o', built, './cmd/votecast'], { cwd: repo, stdio: 'inherit' });
  }
  return built;
}

// freePort asks the kernel for a port that is free on host right now.
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

export class Server {
  // extraArgs: more flags of serve; env: more environment.
  constructor({ allowOrigins = [], extraArgs = [], env = {} } = {}) {
    this.allowOrigins = allowOrigins;
    this.extraArgs = extraArgs;
    this.env = env;
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'votecast-e2e-'));
    this.proc = null;
    this.log = [];
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    if (!this.port) this.port = await freePort();
    const args = ['serve', '--http', `127.0.0.1:${this.port}`, '--data', this.dir, ...this.extraArgs];
    if (this.allowOrigins.length) args.push('--allow-origin', this.allowOrigins.join(','));
    const proc = spawn(binary(), args, {
      env: { ...process.env, ...this.env, VOTECAST_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
    this.exited = exited;
    for (const s of [proc.stdout, proc.stderr]) s.on('data', (b) => this.log.push(b.toString()));
    let dead = null;
    exited.then((e) => { dead = e; });
    await waitFor(async () => {
      if (dead) throw new Error(`votecast serve exited (${JSON.stringify(dead)}):\n${this.log.join('')}`);
      try {
        const r = await fetch(`${this.url}/readyz`);
        return r.ok;
      } catch {
        return false;
      }
    }, { timeout: 30000, what: 'votecast serve to be ready' });
    return this;
  }

  // stop sends SIGTERM (graceful: WebSockets get 1001) and waits for exit.
  async stop(signal = 'SIGTERM') {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 25000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // api calls the JSON API with the admin token.
  async api(method, p, body) {
    const res = await fetch(this.url + p, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // poll creates a poll from spec and opens it unless open is false.
  async poll(spec, { open = true } = {}) {
    let p = await this.api('POST', '/api/polls', spec);
    if (open) p = await this.api('POST', `/api/polls/${p.id}/open`);
    return p;
  }

  closePoll(id) { return this.api('POST', `/api/polls/${id}/close`); }

  // results are the server's totals (the producer sees hidden ones too).
  results(id) { return this.api('GET', `/api/polls/${id}/results`); }
}
