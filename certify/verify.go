package certify

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
)

// ReadExport reads an export's lines. Sequences must rise line by line:
// the export is in log order.
func ReadExport(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes+1)
	var entries []Entry
	for n := 1; sc.Scan(); n++ {
		e, err := ParseLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("export line %d: %w", n, err)
		}
		if len(entries) > 0 && e.Seq <= entries[len(entries)-1].Seq {
			return nil, fmt.Errorf("%w: export line %d: sequence %d after %d, out of log order", ErrInvalid, n, e.Seq, entries[len(entries)-1].Seq)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read export: %w", err)
	}
	return entries, nil
}

// Verify checks an export against a certificate, offline: the signature,
// then the range, the Merkle root, and the totals and counted votes the
// poll's rules make of the export. The error names the first difference.
func Verify(export io.Reader, c Certificate) (Payload, error) {
	p, err := Open(c)
	if err != nil {
		return p, err
	}
	entries, err := ReadExport(export)
	if err != nil {
		return p, err
	}
	t := NewTree(PollOf(p), entries)
	first, last := t.Range()
	switch {
	case len(entries) != p.Entries:
		return p, fmt.Errorf("%w: the export has %d lines, the certificate %d", ErrInvalid, len(entries), p.Entries)
	case first != p.FirstSeq || last != p.LastSeq:
		return p, fmt.Errorf("%w: the export covers sequences %d-%d, the certificate %d-%d", ErrInvalid, first, last, p.FirstSeq, p.LastSeq)
	case t.Root() != p.Root:
		return p, fmt.Errorf("%w: the export's Merkle root is %s, the certificate's %s", ErrInvalid, t.Root(), p.Root)
	case !slices.Equal(t.Totals, p.Totals):
		return p, fmt.Errorf("%w: the export folds to totals %v, the certificate says %v", ErrInvalid, t.Totals, p.Totals)
	case t.Counted != p.Counted:
		return p, fmt.Errorf("%w: the export has %d counted votes, the certificate %d", ErrInvalid, t.Counted, p.Counted)
	case t.Winners != p.Winners || t.Cutoff != p.Cutoff:
		return p, fmt.Errorf("%w: the export gives %d winners up to sequence %d, the certificate %d up to %d", ErrInvalid, t.Winners, t.Cutoff, p.Winners, p.Cutoff)
	}
	if _, err := hex.DecodeString(p.Salt); err != nil || len(p.Salt) != 2*SaltBytes {
		return p, fmt.Errorf("%w: salt is not %d hex bytes", ErrInvalid, SaltBytes)
	}
	return p, nil
}

// WriteExport writes entries as an export: one line each, in order.
func WriteExport(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		bw.Write(e.Line())
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}
