package web

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// The pages are written as small ES modules, one concept each, that node
// tests and people read. A phone on HTTP/1.1 fetches at most six files at
// once, so eight modules cost it a second round trip, 400 ms on slow 3G.
// bundle joins an entry module and everything it imports into one module
// at start-up: each module body runs in its own function scope, exactly
// once, in dependency order, and its exports become a frozen object the
// importers destructure. No renaming, no minifying: the bundle reads like
// its sources. Only the import and export forms our modules use are
// accepted; anything else is an error from New, caught by the tests.

var (
	importRE     = regexp.MustCompile(`^import \{([^}]*)\} from '\./([A-Za-z0-9_-]+\.js)';\s*$`)
	exportDeclRE = regexp.MustCompile(`^export ((?:async +)?function\*? +|class +|const +|let +)([A-Za-z_$][\w$]*)`)
	moduleSyntax = regexp.MustCompile(`^\s*import[\s{*'"]|^\s*export[\s{*]|\bimport\s*\(|\bimport\.meta\b`)
	identRE      = regexp.MustCompile(`^[A-Za-z_$][\w$]*$`)
)

type jsModule struct {
	name    string
	lines   []string
	exports []string
}

// bundle returns the module that runs entry and its imports. read gives a
// module's source by its name under js/.
func bundle(read func(name string) ([]byte, bool), entry string) ([]byte, error) {
	var order []*jsModule
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("import cycle: %s", strings.Join(append(chain, name), " -> "))
		case 2:
			return nil
		}
		state[name] = 1
		src, ok := read(name)
		if !ok {
			return fmt.Errorf("%s imports %s, which does not exist", chain[len(chain)-1], name)
		}
		m, deps, err := parseModule(name, src)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		return nil
	}
	if err := visit(entry, []string{"(entry)"}); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", entry, err)
	}
	var b bytes.Buffer
	names := make([]string, len(order))
	for i, m := range order {
		names[i] = m.name
	}
	fmt.Fprintf(&b, "// %s with its imports (%s), joined by votecast at start-up.\n// The sources are the modules of the same names next to this file.\n", entry, strings.Join(names, ", "))
	for _, m := range order {
		fmt.Fprintf(&b, "\n// ---- %s\n", m.name)
		if m.name != entry {
			fmt.Fprintf(&b, "const %s = (() => {\n", moduleVar(m.name))
		} else {
			b.WriteString("{\n")
		}
		for _, l := range m.lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if m.name != entry {
			fmt.Fprintf(&b, "return Object.freeze({ %s });\n})();\n", strings.Join(m.exports, ", "))
		} else {
			b.WriteString("}\n")
		}
	}
	return b.Bytes(), nil
}

// parseModule rewrites one module's imports into destructuring of the
// imported module's object and strips its export keywords.
func parseModule(name string, src []byte) (*jsModule, []string, error) {
	m := &jsModule{name: name}
	var deps []string
	for i, line := range strings.Split(strings.TrimRight(string(src), "\n"), "\n") {
		if g := importRE.FindStringSubmatch(line); g != nil {
			var binds []string
			for spec := range strings.SplitSeq(g[1], ",") {
				spec = strings.TrimSpace(spec)
				if spec == "" {
					continue
				}
				from, to, renamed := strings.Cut(spec, " as ")
				from, to = strings.TrimSpace(from), strings.TrimSpace(to)
				if !identRE.MatchString(from) || (renamed && !identRE.MatchString(to)) {
					return nil, nil, fmt.Errorf("%s:%d: cannot bundle import %q", name, i+1, spec)
				}
				if renamed {
					from += ": " + to
				}
				binds = append(binds, from)
			}
			deps = append(deps, g[2])
			m.lines = append(m.lines, fmt.Sprintf("const { %s } = %s;", strings.Join(binds, ", "), moduleVar(g[2])))
			continue
		}
		if g := exportDeclRE.FindStringSubmatch(line); g != nil {
			m.exports = append(m.exports, g[2])
			line = strings.TrimPrefix(line, "export ")
		}
		if moduleSyntax.MatchString(line) {
			return nil, nil, fmt.Errorf("%s:%d: cannot bundle %q", name, i+1, strings.TrimSpace(line))
		}
		m.lines = append(m.lines, line)
	}
	return m, deps, nil
}

// moduleVar is the name a module's exports live under in a bundle.
func moduleVar(name string) string {
	base := strings.TrimSuffix(path.Base(name), ".js")
	return "$" + strings.Map(func(r rune) rune {
		if r == '-' {
			return '_'
		}
		return r
	}, base)
}
