// url: the viewer socket's address, /ws?poll=ID on the server's own
// origin, with who the viewer is: a partner-signed token, or an anonymous
// viewer's sealed id (the server's hello frame), never both.

/** socketURL turns the server's address (http, https, ws or wss; a path prefix is kept) into the socket's. */
export function socketURL(base: string, poll: string, who: { token?: string; viewer?: string } = {}): string {
  const u = new URL(base);
  switch (u.protocol) {
    case 'http:':
    case 'ws:':
      u.protocol = 'ws:';
      break;
    case 'https:':
    case 'wss:':
      u.protocol = 'wss:';
      break;
    default:
      throw new TypeError(`votecast: url must be http(s) or ws(s), got ${JSON.stringify(base)}`);
  }
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  u.search = '';
  u.hash = '';
  u.searchParams.set('poll', poll);
  if (who.token) u.searchParams.set('token', who.token);
  else if (who.viewer) u.searchParams.set('viewer', who.viewer);
  return u.toString();
}
