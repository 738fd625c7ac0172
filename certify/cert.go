package certify

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/votecast/votecast/schema"
)

// Format names this certificate's form; a verifier refuses another.
const Format = "votecast-certificate-v1"

// MaxCertificateBytes bounds a certificate read from a file or a bucket.
const MaxCertificateBytes = 64 << 10

// ErrInvalid is wrapped by every reason a certificate or an export does
// not hold: a bad signature, a different root, different totals.
var ErrInvalid = errors.New("does not verify")

// Payload is what a certificate states. It is signed as the exact bytes
// of Certificate.Payload, never re-encoded, so a browser checks the same
// bytes the server signed.
type Payload struct {
	Format       string   `json:"format"`
	Poll         string   `json:"poll"`
	Question     string   `json:"question"`
	Options      []string `json:"options"`
	VotesPerUser int      `json:"votes_per_user"`
	AllowChange  bool     `json:"allow_change"`
	Totals       []int64  `json:"totals"`
	// A giveaway's rules and winners: the first Prizes eligible entries
	// (on Answer, if set) in the export's order win; Winners of them did,
	// the last at sequence Cutoff (0 until every prize is won).
	Kind    schema.Kind `json:"kind,omitempty"`
	Prizes  int         `json:"prizes,omitempty"`
	Answer  *int        `json:"answer,omitempty"`
	Winners int64       `json:"winners,omitempty"`
	Cutoff  uint64      `json:"cutoff,omitempty"`
	// Counted is how many votes moved the totals; Entries how many lines
	// the export has (every message of the poll's log in the range).
	Counted  int    `json:"counted"`
	Entries  int    `json:"entries"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// Root is the Merkle tree hash over the export's lines (hex); Salt
	// is the poll's salt (hex), published here at close.
	Root      string    `json:"root"`
	Salt      string    `json:"salt"`
	PublicKey string    `json:"public_key"` // Ed25519, base64
	ClosedAt  time.Time `json:"closed_at"`
	SignedAt  time.Time `json:"signed_at"`
}

// Certificate is a signed Payload as served and stored: the payload's
// JSON as a string, and the Ed25519 signature over its bytes (base64).
type Certificate struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// Sign encodes p and signs it with key.
func Sign(key ed25519.PrivateKey, p Payload) (Certificate, error) {
	p.Format = Format
	p.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	b, err := json.Marshal(p)
	if err != nil {
		return Certificate{}, fmt.Errorf("sign certificate of %s: %w", p.Poll, err)
	}
	return Certificate{Payload: string(b), Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, b))}, nil
}

// Open checks the signature with the public key the payload names and
// returns the payload. Whether that key is the server's is the reader's
// to check (GET /.well-known/votecast-key): Open says the payload is what
// the key's holder signed.
func Open(c Certificate) (Payload, error) {
	var p Payload
	if err := json.Unmarshal([]byte(c.Payload), &p); err != nil {
		return p, fmt.Errorf("%w: payload is not JSON: %v", ErrInvalid, err)
	}
	if p.Format != Format {
		return p, fmt.Errorf("%w: format %q, want %q", ErrInvalid, p.Format, Format)
	}
	pub, err := base64.StdEncoding.DecodeString(p.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return p, fmt.Errorf("%w: public key is not an Ed25519 key", ErrInvalid)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(c.Payload), sig) {
		return p, fmt.Errorf("%w: the signature does not match the payload", ErrInvalid)
	}
	if !schema.ValidPollID(p.Poll) || len(p.Totals) != len(p.Options) {
		return p, fmt.Errorf("%w: poll id or totals malformed", ErrInvalid)
	}
	return p, nil
}

// DecodeCertificate parses a certificate's JSON.
func DecodeCertificate(b []byte) (Certificate, error) {
	var c Certificate
	if len(b) > MaxCertificateBytes {
		return c, fmt.Errorf("certificate larger than %d bytes", MaxCertificateBytes)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("certificate is not JSON: %w", err)
	}
	if c.Payload == "" || c.Signature == "" {
		return c, errors.New("certificate has no payload or no signature")
	}
	return c, nil
}

// LoadKey reads the Ed25519 signing key at path (its 32-byte seed, base64),
// creating it, readable by the owner alone, when there is none.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		_, _ = rand.Read(seed) // crypto/rand.Read never fails on supported platforms
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create signing key %s: %w", path, err)
		}
		enc := base64.StdEncoding.EncodeToString(seed) + "\n"
		if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
			return nil, fmt.Errorf("create signing key %s: %w", path, err)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(string(trimSpace(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key %s: want a base64 Ed25519 seed of %d bytes", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
