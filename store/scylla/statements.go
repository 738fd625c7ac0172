package scylla

import "strings"

// splitStatements cuts a .cql file into its statements at each ';',
// leaving out comments (--, //, /* */) so a ';' or a quote in a comment
// does not cut or swallow a statement, and keeping ';' inside quoted
// strings and identifiers.
func splitStatements(src string) []string {
	var (
		out []string
		cur strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(src); i++ {
		rest := src[i:]
		switch {
		case rest[0] == '\'' || rest[0] == '"':
			n := quotedLen(rest)
			cur.WriteString(rest[:n])
			i += n - 1
		case strings.HasPrefix(rest, "--") || strings.HasPrefix(rest, "//"):
			n := strings.IndexByte(rest, '\n')
			if n < 0 {
				n = len(rest)
			}
			i += n - 1 // the newline itself is kept
		case strings.HasPrefix(rest, "/*"):
			n := strings.Index(rest[2:], "*/")
			if n < 0 {
				n = len(rest) - 4
			}
			cur.WriteByte(' ')
			i += n + 3
		case rest[0] == ';':
			flush()
		default:
			cur.WriteByte(rest[0])
		}
	}
	flush()
	return out
}

// quotedLen is the length of the quoted string or identifier s starts
// with, closing quote included; a doubled quote inside is an escaped one.
func quotedLen(s string) int {
	q := s[0]
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			i++
			continue
		}
		return i + 1
	}
	return len(s)
}
