package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBundle(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
		want    []string // substrings of the bundle
		once    string   // a substring that must appear exactly once
	}{
		{
			name: "imports are joined",
			files: map[string]string{
				"main.js": "import { a, b as bee } from './lib.js';\nconsole.log(a + bee());\n",
				"lib.js":  "export const a = 1;\nexport function b() { return 2; }\n",
			},
			want: []string{"var a = 1;", "function b()", "console.log(a + b());"},
		},
		{
			name: "diamond: each module once",
			files: map[string]string{
				"main.js": "import { x } from './l.js';\nimport { y } from './r.js';\nconsole.log(x, y);\n",
				"l.js":    "import { z } from './base.js';\nexport const x = z + 1;\n",
				"r.js":    "import { z } from './base.js';\nexport const y = z + 2;\n",
				"base.js": "export const z = Date.now();\n",
			},
			once: "Date.now()",
		},
		{name: "missing", files: map[string]string{"main.js": "import { a } from './gone.js';\nconsole.log(a);\n"}, wantErr: "gone.js does not exist"},
		{name: "bare import", files: map[string]string{"main.js": "import { a } from 'left-pad';\nconsole.log(a);\n"}, wantErr: "only relative imports"},
		{name: "syntax error", files: map[string]string{"main.js": "const = 1;\n"}, wantErr: "main.js:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(n string) ([]byte, bool) {
				s, ok := tt.files[n]
				return []byte(s), ok
			}
			out, err := bundle(read, "main.js")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("bundle lacks %q:\n%s", w, out)
				}
			}
			if tt.once != "" && strings.Count(string(out), tt.once) != 1 {
				t.Errorf("%q appears %d times:\n%s", tt.once, strings.Count(string(out), tt.once), out)
			}
		})
	}
}

// TestBundleRuns bundles an entry that uses the real pure modules and runs
// it in node: the bundle behaves like the modules it joins.
func TestBundleRuns(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	files, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	entry := `import { Ballot } from './ballot.js';
import { percents } from './format.js';
import { translate } from './i18n.js';
import { Backoff } from '../../../clients/js/src/backoff.js';
const b = new Ballot({ votesPerUser: 2, options: 2 });
const v = b.cast(1);
b.due(0);
b.ack({ id: v.key, status: 'accepted' }, 0);
console.log(JSON.stringify([b.shares(), b.votesLeft(), percents([1, 3]), translate('ko', 'votesLeft', { n: 1, total: 2 }), new Backoff({ random: () => 1 }).next()]));
`
	modules := moduleReader(files)
	read := func(n string) ([]byte, bool) {
		if n == "entry.js" {
			return []byte(entry), true
		}
		return modules(n)
	}
	out, err := bundle(read, "entry.js")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.mjs")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(node, path).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, got)
	}
	want := `[[0,1],1,[25,75],"2표 중 1표 남음",500]`
	if strings.TrimSpace(string(got)) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestPageBundlesParse checks every page bundle with node --check.
func TestPageBundlesParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	h := newTestHandler(t)
	for _, e := range entries {
		name := strings.TrimSuffix(e, ".js") + ".bundle.js"
		res := get(h, "GET", "/assets/v1/js/"+name, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", name, res.StatusCode)
		}
		path := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".js")+".mjs")
		body := make([]byte, 0, 1<<16)
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", name, err, out)
		}
	}
}
