// api: the producer's calls to the votecast HTTP API. The admin token
// lives in sessionStorage (gone when the tab closes), travels only in the
// Authorization header, and is never put in a URL or logged.

const TOKEN_KEY = 'votecast.admin.token';

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class AdminAPI {
  constructor(session) {
    this.session = session;
    this.onUnauthorized = () => {};
  }

  get token() {
    try { return this.session?.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  }

  set token(v) {
    try {
      if (v) this.session?.setItem(TOKEN_KEY, v);
      else this.session?.removeItem(TOKEN_KEY);
    } catch { /* storage blocked: the token lives as long as the page */ }
    this.memory = v;
  }

  async raw(method, path, body) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${this.token || this.memory || ''}` };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch {
      throw new APIError(0, 'network');
    }
    if (res.status === 401) this.onUnauthorized();
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
      throw new APIError(res.status, msg);
    }
    return res;
  }

  async json(method, path, body) {
    return (await this.raw(method, path, body)).json();
  }

  async listPolls() {
    const b = await this.json('GET', '/api/polls');
    return Array.isArray(b) ? b : b.polls || [];
  }

  createPoll(spec) { return this.json('POST', '/api/polls', spec); }
  updatePoll(id, spec) { return this.json('PUT', `/api/polls/${encodeURIComponent(id)}`, spec); }
  openPoll(id) { return this.json('POST', `/api/polls/${encodeURIComponent(id)}/open`); }
  closePoll(id) { return this.json('POST', `/api/polls/${encodeURIComponent(id)}/close`); }
  results(id) { return this.json('GET', `/api/polls/${encodeURIComponent(id)}/results`); }
  stats() { return this.json('GET', '/api/stats'); }
  // setQueueRate changes the waiting room's admission rate (viewers per
  // second) for every edge; it answers the line.
  setQueueRate(rate) { return this.json('PUT', '/api/queue/rate', { rate }); }

  // export returns the results file as a Blob: format 'csv' or 'json'.
  async export(id, format) {
    const q = format === 'csv' ? '?format=csv' : '';
    const res = await this.raw('GET', `/api/polls/${encodeURIComponent(id)}/results${q}`);
    if (format === 'json') {
      const pretty = JSON.stringify(await res.json(), null, 2) + '\n';
      return new Blob([pretty], { type: 'application/json' });
    }
    return res.blob();
  }

  // logExport returns a closed poll's export as a Blob: NDJSON, one line
  // per message of its log, the lines its certificate's root covers.
  async logExport(id) {
    return (await this.raw('GET', `/api/polls/${encodeURIComponent(id)}/export`)).blob();
  }
}
