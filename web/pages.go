package web

import (
	"fmt"
	"strings"

	jsclient "github.com/votecast/votecast/clients/js"
)

// assetsPlaceholder is written in the HTML files where the versioned asset
// prefix goes ("{{assets}}/js/viewer.js").
const assetsPlaceholder = "{{assets}}"

// clientSources is where a page's module finds the JavaScript client's
// sources it shares (import '../../../clients/js/src/backoff.js'): the
// path is the repository's, so node runs the pages' tests on the files
// as they are, and here it is read from the copy the binary embeds.
const clientSources = "../../../clients/js/src/"

// moduleReader reads a module by its name under js/, the client's shared
// sources included.
func moduleReader(files *assetSet) func(name string) ([]byte, bool) {
	return func(name string) ([]byte, bool) {
		if rest, ok := strings.CutPrefix(name, clientSources); ok {
			b, err := jsclient.Shared.ReadFile("src/" + rest)
			return b, err == nil
		}
		a := files.get("js/" + name)
		if a == nil {
			return nil, false
		}
		return a.raw, true
	}
}

// entries are the pages' entry modules; each is served with its imports
// joined as js/<name>.bundle.js (see bundle.go).
var entries = []string{"viewer.js", "embed.js", "index.js", "admin.js", "verify.js"}

// buildPages makes the bundles and renders the HTML pages once, with this
// version's asset URLs.
func (s *site) buildPages() error {
	read := moduleReader(s.assets)
	for _, e := range entries {
		js, err := bundle(read, e)
		if err != nil {
			return err
		}
		s.assets.files["js/"+strings.TrimSuffix(e, ".js")+".bundle.js"] = newAsset(e, js, true)
	}
	prefix := "/assets/" + s.version
	for _, p := range []struct {
		dst  **asset
		name string
	}{
		{&s.index, "index.html"},
		{&s.viewer, "viewer.html"},
		{&s.admin, "admin.html"},
		{&s.embed, "embed.html"},
		{&s.verify, "verify.html"},
	} {
		src := s.assets.get(p.name)
		if src == nil {
			return fmt.Errorf("page %s is not embedded", p.name)
		}
		html := strings.ReplaceAll(string(src.raw), assetsPlaceholder, prefix)
		*p.dst = newAsset(p.name, []byte(html), false)
	}
	s.widget = s.assets.get("widget.js")
	if s.widget == nil {
		return fmt.Errorf("widget.js is not embedded")
	}
	return nil
}
