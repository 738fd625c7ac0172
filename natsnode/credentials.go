package natsnode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Credentials is the nkey user every client of an embedded server proves
// itself as, in-process connections included.
//
// An nkey rather than a password or token: the client signs the server's
// nonce with its seed, so the secret never crosses the connection (a
// listener on a non-loopback address without TLS leaks nothing reusable),
// the server holds only the public key, and the same seed file works with
// the nats CLI (--nkey) and nats.go (nats.NkeyOptionFromSeed).
type Credentials struct {
	kp     nkeys.KeyPair
	public string
	path   string
}

// LoadOrCreateCredentials reads the nkey seed at path, or, when there is
// none, generates one and writes it there (mode 0600), so the credentials
// stay the same across restarts.
func LoadOrCreateCredentials(path string) (*Credentials, error) {
	c, err := LoadCredentials(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("generate nats credentials: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("generate nats credentials: %w", err)
	}
	if err := writeSecret(path, append(seed, '\n')); err != nil {
		return nil, fmt.Errorf("write nats credentials: %w", err)
	}
	return newCredentials(kp, path)
}

// LoadCredentials reads the nkey seed at path. It refuses a file others
// may read: its secret may have been copied, so it is no proof of anything.
func LoadCredentials(path string) (*Credentials, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read nats credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read nats credentials: %s has mode %04o, readable by others: chmod 600 it, or delete it to have serve generate new ones", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read nats credentials: %w", err)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(b)
	clear(b)
	if err != nil {
		// nkeys' errors never quote the input.
		return nil, fmt.Errorf("read nats credentials %s: %w", path, err)
	}
	return newCredentials(kp, path)
}

func newCredentials(kp nkeys.KeyPair, path string) (*Credentials, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", path, err)
	}
	return &Credentials{kp: kp, public: pub, path: path}, nil
}

// writeSecret writes b to path through a temporary file, so a crash never
// leaves a half-written seed behind.
func writeSecret(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// PublicKey is the nkey the server admits.
func (c *Credentials) PublicKey() string { return c.public }

// Path is the seed file, for tools (nats --nkey PATH).
func (c *Credentials) Path() string { return c.path }

// Option makes a client connection sign the server's nonce with the seed.
func (c *Credentials) Option() nats.Option { return nats.Nkey(c.public, c.kp.Sign) }
