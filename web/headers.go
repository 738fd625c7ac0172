package web

import (
	"net/http"
)

// policy is the Content Security Policy of every response, with the given
// frame-ancestors sources. No inline script or style: everything the pages
// run comes from their own origin. connect-src 'self' covers the API and
// the ws:/wss: WebSocket of the same host.
func policy(frameAncestors string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-src 'none'; " +
		"frame-ancestors " + frameAncestors
}

// secure sets the security headers every response carries; handlers that
// need another CSP (the embed page) overwrite it.
func secure(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		next.ServeHTTP(w, r)
	})
}

// setHTMLHeaders marks a response as one of the top-level pages.
func setHTMLHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
