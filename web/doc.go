// Package web serves votecast's pages: the open-poll list at /, the viewer
// page at /p/{id}, the producer dashboard at /admin, the partner widget
// (/widget.js and its frame page /embed/{id}), the results certificate's
// check at /verify (?poll=ID&seq=N&option=O) and their static assets.
//
// Everything is embedded with go:embed and precompressed once in New: there
// is no build step and a request never compresses anything. Assets live
// under /assets/<version>/ and are cached for a year; HTML is revalidated
// on every load (no-cache with an ETag), so a deploy reaches viewers at
// their next page load. Every response carries a strict Content Security
// Policy (no inline script, script-src 'self') and frame-ancestors 'none',
// except the embed page, which partner origins may frame.
//
// The pages speak to the server only through its public contract (the JSON
// API under /api/ and the viewer WebSocket at /ws); this package knows
// nothing of polls, NATS or the store.
//
// Concurrency: New builds immutable tables; the returned handler is safe
// for concurrent use and allocates little per request.
package web
