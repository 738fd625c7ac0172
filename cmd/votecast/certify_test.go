package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/schema"
)

// getJSON GETs path and decodes a 200 answer into out; it returns the
// status.
func (s *server) getJSON(path string, admin bool, out any) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url(path), nil)
	if admin {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			s.t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return res.StatusCode, body
}

// TestCertificate: a closed poll's certificate states the totals the
// viewers were told, is signed by the key the server publishes, is made
// once (a second node with another key serves the same one), the export
// verifies against it offline and fails once a line is gone, and every
// accepted vote's receipt proves it is in the certified tree.
func TestCertificate(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(3, func(sp *schema.PollSpec) { sp.VotesPerUser = 2 })
	type receipt struct {
		user   string
		seq    uint64
		option int
	}
	var receipts []receipt
	want := []int64{0, 0, 0}
	for i, user := range []string{"ana", "bo", "cy", "di"} {
		v := s.dial(p.ID, user)
		for k := range 2 {
			a, err := v.tryAck("k"+string(rune('0'+k)), (i+k)%3, 1)
			if err != nil || a.status != schema.StatusAccepted || a.seq == 0 {
				t.Fatalf("%s's vote %d: %+v %v, want accepted with a receipt", user, k, a, err)
			}
			receipts = append(receipts, receipt{user, a.seq, (i + k) % 3})
			want[(i+k)%3]++
		}
		// A resend is answered with the same receipt.
		if a, err := v.tryAck("k0", i%3, 1); err != nil || a.reason != "already counted" || a.seq != receipts[len(receipts)-2].seq {
			t.Fatalf("%s's resend: %+v %v, want already counted with receipt %d", user, a, err, receipts[len(receipts)-2].seq)
		}
		v.c.CloseNow()
	}
	if code, body := s.getJSON("/api/polls/"+p.ID+"/certificate", false, nil); code != http.StatusConflict || !strings.Contains(string(body), "not closed") {
		t.Fatalf("certificate of an open poll: %d %s, want 409 not closed", code, body)
	}
	s.setState(p.ID, "close")
	s.waitTotals(p.ID, want)

	var cert certify.Certificate
	if code, body := s.getJSON("/api/polls/"+p.ID+"/certificate", false, &cert); code != http.StatusOK {
		t.Fatalf("certificate: %d %s", code, body)
	}
	pay, err := certify.Open(cert)
	if err != nil {
		t.Fatal(err)
	}
	var key struct {
		PublicKey string `json:"public_key"`
	}
	s.getJSON("/.well-known/votecast-key", false, &key)
	if pay.PublicKey != key.PublicKey || !slices.Equal(pay.Totals, want) || pay.Counted != 8 || pay.Poll != p.ID {
		t.Fatalf("certificate states %+v; want totals %v, 8 counted, signed by the served key %s", pay, want, key.PublicKey)
	}

	// Another node, with another key, serves the stored certificate.
	link, err := natsConfig{url: s.natsURL, dir: s.dir}.dialTool("test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer link.close(context.Background())
	_, other, _ := ed25519.GenerateKey(nil)
	svc, err := certify.NewService(context.Background(), link.js, other)
	if err != nil {
		t.Fatal(err)
	}
	closed, _ := readPoll(context.Background(), link.js, p.ID)
	if again, err := svc.Certificate(context.Background(), closed); err != nil || again != cert {
		t.Fatalf("a second node's certificate: %v, differs: %v", err, again != cert)
	}

	// The producer's export verifies offline; the public cannot have it.
	if code, _ := s.getJSON("/api/polls/"+p.ID+"/export", false, nil); code != http.StatusUnauthorized {
		t.Fatalf("export without the token: %d, want 401", code)
	}
	code, fromAPI := s.getJSON("/api/polls/"+p.ID+"/export", true, nil)
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, fromAPI)
	}
	if _, err := certify.Verify(bytes.NewReader(fromAPI), cert); err != nil {
		t.Fatalf("the API's export: %v", err)
	}

	// votecast export and votecast verify, as an auditor runs them.
	dir := t.TempDir()
	exp, certFile := filepath.Join(dir, "export.ndjson"), filepath.Join(dir, "cert.json")
	var progress bytes.Buffer
	if err := export(context.Background(), exportConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: p.ID, out: exp, cert: certFile}, io.Discard, &progress); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(exp); !bytes.Equal(b, fromAPI) {
		t.Fatalf("votecast export wrote another export than the API's")
	}
	var out bytes.Buffer
	if err := verify(exp, certFile, key.PublicKey, &out); err != nil || !strings.Contains(out.String(), "verified: poll "+p.ID) {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	lines := strings.SplitAfter(string(fromAPI), "\n")
	for name, changed := range map[string]string{
		"a line removed":    strings.Join(slices.Delete(slices.Clone(lines), 2, 3), ""),
		"an option changed": strings.Replace(string(fromAPI), `"option":0`, `"option":1`, 1),
	} {
		if err := os.WriteFile(exp, []byte(changed), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		var code exitCode
		if err := verify(exp, certFile, "", &out); !errors.As(err, &code) || code != 1 || !strings.Contains(out.String(), "NOT VERIFIED") {
			t.Fatalf("verify with %s: %v\n%s", name, err, out.String())
		}
	}
	out.Reset()
	otherKey := base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey))
	if err := os.WriteFile(exp, fromAPI, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verify(exp, certFile, otherKey, &out); err == nil || !strings.Contains(out.String(), "not by --key") {
		t.Fatalf("verify against another key: %v\n%s", err, out.String())
	}

	// Every receipt proves its vote is in the certified tree.
	salt, _ := hex.DecodeString(pay.Salt)
	root, _ := hex.DecodeString(pay.Root)
	for _, r := range receipts {
		var rc certify.Receipt
		if code, body := s.getJSON("/api/polls/"+p.ID+"/receipt?seq="+strconv.FormatUint(r.seq, 10), false, &rc); code != http.StatusOK {
			t.Fatalf("receipt %d: %d %s", r.seq, code, body)
		}
		if rc.Entry.Seq != r.seq || rc.Entry.User != certify.HashUser(salt, r.user) || rc.Entry.Option != r.option {
			t.Fatalf("receipt %d names %+v, want %s's vote for %d", r.seq, rc.Entry, r.user, r.option)
		}
		var path [][]byte
		for _, h := range rc.Proof {
			b, _ := hex.DecodeString(h)
			path = append(path, b)
		}
		leaf := certify.HashLeaf(rc.Entry.Line())
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(rc.Index), uint64(rc.Size), leaf[:], path, root); err != nil {
			t.Fatalf("receipt %d: %v", r.seq, err)
		}
	}
	for q, wantCode := range map[string]int{"seq=999999": http.StatusNotFound, "seq=abc": http.StatusBadRequest, "": http.StatusBadRequest} {
		if code, _ := s.getJSON("/api/polls/"+p.ID+"/receipt?"+q, false, nil); code != wantCode {
			t.Errorf("receipt?%s: %d, want %d", q, code, wantCode)
		}
	}
}
