package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed static
var staticFS embed.FS

// asset is one response body, ready to send: raw and gzipped bytes and
// their entity tags.
type asset struct {
	contentType string
	raw, gz     []byte // gz is nil when compressing does not pay
	etag        string
	public      bool // served under /assets/<version>/
}

func newAsset(name string, raw []byte, public bool) *asset {
	sum := sha256.Sum256(raw)
	a := &asset{
		contentType: contentType(name),
		raw:         raw,
		etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		public:      public,
	}
	if compressible(a.contentType) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level never fails
		_, _ = zw.Write(raw)                                     // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		if buf.Len() < len(raw) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

// assetSet holds every file under static/, by path relative to it.
type assetSet struct {
	files map[string]*asset
	names []string // sorted
}

func loadAssets() (*assetSet, error) {
	set := &assetSet{files: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		// Pages are templates served at their own paths, never as assets.
		set.files[name] = newAsset(name, raw, path.Ext(name) != ".html")
		set.names = append(set.names, name)
		return nil
	})
	sort.Strings(set.names)
	return set, err
}

func (s *assetSet) get(name string) *asset { return s.files[name] }

// hash is the default version: it changes whenever any embedded file does.
func (s *assetSet) hash() string {
	h := sha256.New()
	for _, n := range s.names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(s.files[n].raw)
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// serve writes a with the given Cache-Control, gzipped when the client
// takes it, and answers a matching If-None-Match with 304.
func serve(w http.ResponseWriter, r *http.Request, a *asset, cacheControl string) {
	if a == nil {
		notFound(w)
		return
	}
	h := w.Header()
	body, etag := a.raw, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", a.contentType)
	}
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip: listed
// (or *) without q=0.
func acceptsGzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q="), "0.") == "" {
			return false
		}
		return true
	}
	return false
}

func etagMatch(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		t := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
