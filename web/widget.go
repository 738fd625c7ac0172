package web

import (
	"net/http"
	"slices"
	"strings"
)

// widgetScript serves the one-tag embed script. Its URL is fixed (partners
// paste it once), so it is cached briefly rather than forever.
func (s *site) widgetScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Access-Control-Allow-Origin", "*")
	serve(w, r, s.widget, "public, max-age=300")
}

// widgetAllowed tells the widget script whether the page it runs on may
// embed polls, so a refused site sees a clear message instead of a broken
// frame. It only informs: the frame-ancestors CSP of /embed/{id} enforces.
// The answer is readable by any origin; it reveals nothing but that bit.
func (s *site) widgetAllowed(w http.ResponseWriter, r *http.Request) {
	origin := strings.ToLower(r.Header.Get("Origin"))
	allowed := origin == "" || s.isSelf(r, origin) || slices.Contains(s.partners, origin)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Access-Control-Allow-Origin", "*")
	body := `{"allowed":false}`
	if allowed {
		body = `{"allowed":true}`
	}
	_, _ = w.Write([]byte(body + "\n"))
}

// isSelf reports whether origin is this server's own (a same-origin fetch
// normally carries no Origin at all, but some browsers send it anyway).
func (s *site) isSelf(r *http.Request, origin string) bool {
	host := strings.ToLower(r.Host)
	return origin == "http://"+host || origin == "https://"+host
}
