package main

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerContextHasTheSources: the image is built from the context
// .dockerignore leaves, so every file the binary is built from (Go files
// and what they embed) must be in it. No container engine runs here to
// build the image; this catches an ignore line that would break it.
func TestDockerContextHasTheSources(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ignored := dockerIgnore(t, filepath.Join(root, ".dockerignore"))
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`, "./").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		dir, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			files++
			name := filepath.ToSlash(filepath.Join(dir, f))
			if pattern := ignored(name); pattern != "" {
				t.Errorf("%s is built into the binary, and .dockerignore's %q leaves it out of the image's build", name, pattern)
			}
		}
	}
	if files < 100 {
		t.Fatalf("only %d files listed: the listing is wrong", files)
	}
}

// dockerIgnore returns whether a path is left out, by the first pattern
// that matches it or one of its parent directories, as Docker matches
// them: from the context's root (unlike .gitignore, a bare name is not
// matched at any depth). It knows the forms our .dockerignore uses:
// paths, globs, a leading or trailing slash; not "!" exceptions or "**".
func dockerIgnore(t *testing.T, file string) func(name string) string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var patterns []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") || strings.Contains(p, "**") {
			t.Fatalf(".dockerignore: %q is a form this test does not know", p)
		}
		patterns = append(patterns, strings.Trim(p, "/"))
	}
	return func(name string) string {
		for _, p := range patterns {
			for n := name; n != "." && n != "/"; n = path.Dir(n) {
				if ok, _ := path.Match(p, n); ok {
					return p
				}
			}
		}
		return ""
	}
}
