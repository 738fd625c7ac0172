package web

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// The pages are written as small ES modules, one concept each, that node
// tests and people read. A phone on HTTP/1.1 fetches at most six files at
// once, so eight modules cost it a second round trip, 400 ms on slow 3G.
// bundle joins an entry module and everything it imports into one module
// at start-up with esbuild, reading the modules from the embedded files.
// No minifying: the bundle reads like its sources, and gzip does the rest.

const embeddedNS = "votecast-embedded"

// bundle returns the module that runs entry and its imports. read gives a
// module's source by its name under js/.
func bundle(read func(name string) ([]byte, bool), entry string) ([]byte, error) {
	embedded := api.Plugin{Name: "embedded", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `.*`}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			name := path.Clean(path.Join(path.Dir(a.Importer), a.Path))
			if a.Importer == "" {
				name = path.Clean(a.Path)
			}
			if !strings.HasPrefix(a.Path, "./") && !strings.HasPrefix(a.Path, "../") && a.Importer != "" {
				return api.OnResolveResult{}, fmt.Errorf("import %q: only relative imports of our own modules", a.Path)
			}
			return api.OnResolveResult{Path: name, Namespace: embeddedNS}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: embeddedNS}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			src, ok := read(a.Path)
			if !ok {
				return api.OnLoadResult{}, fmt.Errorf("module %s does not exist", a.Path)
			}
			s := string(src)
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints:   []string{entry},
		Bundle:        true,
		Write:         false,
		Format:        api.FormatESModule,
		Target:        api.ES2020,
		Charset:       api.CharsetUTF8,
		LegalComments: api.LegalCommentsNone,
		LogLevel:      api.LogLevelSilent,
		Plugins:       []api.Plugin{embedded},
	})
	if len(res.Errors) > 0 {
		msgs := make([]string, 0, len(res.Errors))
		for _, m := range res.Errors {
			where := ""
			if m.Location != nil {
				where = fmt.Sprintf("%s:%d: ", m.Location.File, m.Location.Line)
			}
			msgs = append(msgs, where+m.Text)
		}
		return nil, fmt.Errorf("bundle %s: %s", entry, strings.Join(msgs, "; "))
	}
	if len(res.OutputFiles) != 1 {
		return nil, errors.New("bundle " + entry + ": esbuild wrote no single output")
	}
	return res.OutputFiles[0].Contents, nil
}
