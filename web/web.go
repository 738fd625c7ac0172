package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Options configures the pages. The zero value serves every page with no
// partner allowed to embed a poll.
type Options struct {
	// PartnerOrigins are the origins allowed to embed polls, such as
	// "https://partner.example": they are added to the frame-ancestors CSP
	// of /embed/{id}, and /widget/allowed answers true for them. Each must be
	// scheme://host[:port] with scheme http or https and nothing after it.
	PartnerOrigins []string
	// Version tags asset URLs (/assets/<Version>/...) for long-lived caching.
	// Zero value: a hash of the embedded assets, so a change to any asset
	// gives new URLs. Letters, digits, '.', '_' and '-' only.
	Version string
}

var versionRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// pathIDRE is the shape of a poll id in a page URL. It is looser than the
// server's ids on purpose: the page asks the API, which says whether the
// poll exists; this only keeps odd bytes out of headers and markup.
var pathIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// New validates opts and returns the handler for every page path. Paths it
// does not know get 404; methods other than GET and HEAD get 405.
func New(opts Options) (http.Handler, error) {
	partners, err := normalizeOrigins(opts.PartnerOrigins)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	files, err := loadAssets()
	if err != nil {
		return nil, fmt.Errorf("web: load assets: %w", err)
	}
	version := opts.Version
	if version == "" {
		version = files.hash()
	} else if !versionRE.MatchString(version) {
		return nil, fmt.Errorf("web: version %q: want 1-64 of [A-Za-z0-9._-]", version)
	}
	s := &site{
		assets:   files,
		version:  version,
		partners: partners,
		cspPage:  policy("'none'"),
		cspEmbed: policy(strings.Join(append([]string{"'self'"}, partners...), " ")),
	}
	if err := s.buildPages(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return s.routes(), nil
}

// normalizeOrigins checks each partner origin and returns them in the
// form browsers send in the Origin header (lower-case, no trailing slash).
func normalizeOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, o := range in {
		u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		switch {
		case err != nil:
			return nil, fmt.Errorf("partner origin %q: %w", o, err)
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("partner origin %q: scheme must be http or https", o)
		case u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
			return nil, fmt.Errorf("partner origin %q: want scheme://host[:port] and nothing else", o)
		case strings.ContainsAny(u.Host, " ;,'\""):
			return nil, fmt.Errorf("partner origin %q: bad host", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}

// site is the immutable state behind the handler.
type site struct {
	assets   *assetSet
	version  string
	partners []string
	cspPage  string // every response but the embed page
	cspEmbed string // /embed/{id}: framable by self and partners

	index, viewer, admin, embed, verify *asset
	widget                              *asset
}

func (s *site) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page(func(*http.Request) *asset { return s.index }))
	mux.HandleFunc("GET /admin", s.page(func(*http.Request) *asset { return s.admin }))
	mux.HandleFunc("GET /p/{id}", s.viewerPage)
	mux.HandleFunc("GET /verify", s.page(func(*http.Request) *asset { return s.verify }))
	mux.HandleFunc("GET /embed/{id}", s.embedPage)
	mux.HandleFunc("GET /widget.js", s.widgetScript)
	mux.HandleFunc("GET /widget/allowed", s.widgetAllowed)
	mux.HandleFunc("GET /assets/{version}/{path...}", s.asset)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	return secure(s.cspPage, mux)
}

func (s *site) page(pick func(*http.Request) *asset) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setHTMLHeaders(w.Header())
		serve(w, r, pick(r), "no-cache")
	}
}

func (s *site) viewerPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !pathIDRE.MatchString(id) {
		notFound(w)
		return
	}
	setHTMLHeaders(w.Header())
	// The poll definition is fetched in parallel with the scripts: one
	// round trip less before the poll shows on a slow network.
	w.Header().Set("Link", "</api/polls/"+id+">; rel=preload; as=fetch; crossorigin=anonymous")
	serve(w, r, s.viewer, "no-cache")
}

func (s *site) embedPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !pathIDRE.MatchString(id) {
		notFound(w)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", s.cspEmbed)
	h.Del("X-Frame-Options")
	h.Set("Link", "</api/polls/"+id+">; rel=preload; as=fetch; crossorigin=anonymous")
	h.Set("Content-Type", "text/html; charset=utf-8")
	serve(w, r, s.embed, "no-cache")
}

func (s *site) asset(w http.ResponseWriter, r *http.Request) {
	a := s.assets.get(r.PathValue("path"))
	if a == nil || !a.public {
		notFound(w)
		return
	}
	cache := "public, max-age=31536000, immutable"
	if r.PathValue("version") != s.version {
		// A page from another deploy asks for its assets: answer with
		// ours, but do not let anyone keep them under the wrong version.
		cache = "no-cache"
	}
	serve(w, r, a, cache)
}

func (s *site) favicon(w http.ResponseWriter, r *http.Request) {
	serve(w, r, s.assets.get("favicon.svg"), "public, max-age=86400")
}

func notFound(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("404 page not found\n"))
}
