package web

import (
	"fmt"
	"strings"
)

// assetsPlaceholder is written in the HTML files where the versioned asset
// prefix goes ("{{assets}}/js/viewer.js").
const assetsPlaceholder = "{{assets}}"

// entries are the pages' entry modules; each is served with its imports
// joined as js/<name>.bundle.js (see bundle.go).
var entries = []string{"viewer.js", "embed.js", "index.js", "admin.js", "verify.js"}

// buildPages makes the bundles and renders the HTML pages once, with this
// version's asset URLs.
func (s *site) buildPages() error {
	read := func(name string) ([]byte, bool) {
		a := s.assets.get("js/" + name)
		if a == nil {
			return nil, false
		}
		return a.raw, true
	}
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
