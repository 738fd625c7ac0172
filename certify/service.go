package certify

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"github.com/votecast/votecast/schema"
)

// maxTrees bounds the trees a Service keeps: a closed poll's tree never
// changes, and receipts are asked for in a burst right after its close.
const maxTrees = 8

// ErrNotClosed is returned for a certificate of a poll still running.
var ErrNotClosed = errors.New("the poll is not closed yet: its certificate is made at close")

// Service makes, stores and serves certificates, exports and receipts.
// It is safe for concurrent use and starts no goroutines.
type Service struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	key     ed25519.PrivateKey
	group   singleflight.Group
	mu      sync.Mutex
	trees   map[string]certified
	winners map[string]map[string]Placing
}

// certified is a poll's certificate as stored, its payload and the tree
// rebuilt from the log: what a node keeps of a closed poll.
type certified struct {
	c    Certificate
	tree *Tree
	p    Payload
}

// NewService opens the certificates bucket (natsnode.Ensure made it).
func NewService(ctx context.Context, js jetstream.JetStream, key ed25519.PrivateKey) (*Service, error) {
	kv, err := js.KeyValue(ctx, schema.CertificatesBucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", schema.CertificatesBucket, err)
	}
	return &Service{js: js, kv: kv, key: key, trees: map[string]certified{}, winners: map[string]map[string]Placing{}}, nil
}

// PublicKey is the key this node signs with.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Certificate returns a closed poll's certificate: the stored one, or one
// built from the log now and stored (if another node stored one first,
// that one). Concurrent calls for one poll build once.
func (s *Service) Certificate(ctx context.Context, poll schema.Poll) (Certificate, error) {
	got, err := s.certified(ctx, poll)
	return got.c, err
}

// Tree returns a closed poll's export tree and the certificate's payload.
func (s *Service) Tree(ctx context.Context, poll schema.Poll) (*Tree, Payload, error) {
	got, err := s.certified(ctx, poll)
	return got.tree, got.p, err
}

// certified is the poll's kept certificate and tree, or loads them: the
// log is read once per poll and node, whatever is asked of it.
func (s *Service) certified(ctx context.Context, poll schema.Poll) (certified, error) {
	if poll.State != schema.Closed {
		return certified{}, ErrNotClosed
	}
	s.mu.Lock()
	got, ok := s.trees[poll.ID]
	s.mu.Unlock()
	if ok {
		return got, nil
	}
	v, err, _ := s.group.Do(poll.ID, func() (any, error) {
		got, err := s.load(ctx, poll)
		if err == nil {
			s.keep(poll.ID, got)
		}
		return got, err
	})
	if err != nil {
		return certified{}, err
	}
	return v.(certified), nil
}

// load reads the stored certificate and rebuilds its tree from the log
// with its salt, or builds and stores a new one.
func (s *Service) load(ctx context.Context, poll schema.Poll) (certified, error) {
	c, err := s.stored(ctx, poll.ID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s.create(ctx, poll)
	}
	if err != nil {
		return certified{}, err
	}
	p, err := Open(c)
	if err != nil {
		return certified{}, fmt.Errorf("stored certificate of %s: %w", poll.ID, err)
	}
	salt, err := hex.DecodeString(p.Salt)
	if err != nil {
		return certified{}, fmt.Errorf("stored certificate of %s: bad salt", poll.ID)
	}
	t, err := ReadTree(ctx, s.js, poll, salt, p.LastSeq)
	if err != nil {
		return certified{}, err
	}
	if t.Root() != p.Root {
		return certified{}, fmt.Errorf("the log of %s no longer matches its certificate (root %s, certified %s)", poll.ID, t.Root(), p.Root)
	}
	return certified{c, t, p}, nil
}

// create builds a certificate and stores it unless another node stored
// one first: then that one is the poll's.
func (s *Service) create(ctx context.Context, poll schema.Poll) (certified, error) {
	c, t, err := Build(ctx, s.js, poll, s.key, time.Now())
	if err != nil {
		return certified{}, err
	}
	b, _ := json.Marshal(c)
	_, err = s.kv.Create(ctx, poll.ID, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return s.load(ctx, poll)
	}
	if err != nil {
		return certified{}, fmt.Errorf("store certificate of %s: %w", poll.ID, err)
	}
	p, err := Open(c)
	return certified{c, t, p}, err
}

func (s *Service) stored(ctx context.Context, id string) (Certificate, error) {
	e, err := s.kv.Get(ctx, id)
	if err != nil {
		return Certificate{}, err
	}
	c, err := DecodeCertificate(e.Value())
	if err != nil {
		return c, fmt.Errorf("stored certificate of %s: %w", id, err)
	}
	return c, nil
}

func (s *Service) keep(id string, got certified) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.trees) >= maxTrees {
		for k := range s.trees { // any one: they are all rebuilt on demand
			delete(s.trees, k)
			break
		}
	}
	s.trees[id] = got
}
