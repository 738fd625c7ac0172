// partner: a tiny static site that plays a partner embedding a poll with
// the one-tag widget. Bind it to 127.0.0.2 or 127.0.0.3 to get an origin
// other than the votecast server's.

import http from 'node:http';

export class StaticSite {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.requests = [];
  }

  get origin() { return `http://${this.host}:${this.port}`; }

  // start serves / with the widget tag for poll, and /frame with a bare
  // iframe of the embed page (what a site bypassing the script would do).
  start(pollID, votecastURL, attrs = '') {
    const page = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Partner news site</title></head>
<body style="font-family: Georgia, serif; margin: 0 auto; max-width: 760px; padding: 16px; background: #faf7f0; color: #222">
<h1>Tonight's show: live coverage</h1>
<p>The final is on. Cast your vote below, results update live.</p>
<script src="${votecastURL}/widget.js" data-poll="${pollID}" ${attrs} async></script>
<p>More coverage follows after the break.</p>
</body></html>`;
    const frame = `<!doctype html><html><body><iframe id="direct" src="${votecastURL}/embed/${pollID}" width="400" height="300"></iframe></body></html>`;
    this.srv = http.createServer((req, res) => {
      this.requests.push(req.url);
      const body = req.url === '/frame' ? frame : page;
      res.writeHead(req.url === '/' || req.url === '/frame' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(req.url === '/' || req.url === '/frame' ? body : 'not found');
    });
    return new Promise((resolve) => this.srv.listen(this.port, this.host, resolve));
  }

  close() {
    return new Promise((resolve) => (this.srv ? this.srv.close(resolve) : resolve()));
  }
}
