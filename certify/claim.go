package certify

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// ClaimIssuer is the iss of every claim code.
const ClaimIssuer = "votecast"

// Claim is what a claim code states: the viewer sub won prize Rank (1 is
// the first) of giveaway Poll with the entry the log stored at Entry. A
// claim code is a JWT signed EdDSA (Ed25519) with the key at
// /.well-known/votecast-key, so a partner's backend checks it offline
// with any JWT library, and matches sub with the user it issued the
// viewer's token for.
type Claim struct {
	Poll  string `json:"poll"`
	Entry uint64 `json:"entry"`
	Rank  int    `json:"rank"`
	jwt.RegisteredClaims
}

// MintClaim signs a winner's claim code.
func MintClaim(key ed25519.PrivateKey, poll, user string, entry uint64, rank int, now time.Time) (string, error) {
	c := Claim{Poll: poll, Entry: entry, Rank: rank, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: ClaimIssuer, Subject: user, Audience: jwt.ClaimStrings{poll}, IssuedAt: jwt.NewNumericDate(now),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign claim of %s: %w", poll, err)
	}
	return s, nil
}

// VerifyClaim checks a claim code against the server's public key.
func VerifyClaim(code string, pub ed25519.PublicKey) (Claim, error) {
	var c Claim
	_, err := jwt.ParseWithClaims(code, &c, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(ClaimIssuer))
	if err != nil {
		return c, fmt.Errorf("%w: claim code: %v", ErrInvalid, err)
	}
	if c.Rank < 1 || c.Entry == 0 || len(c.Audience) != 1 || c.Audience[0] != c.Poll {
		return c, fmt.Errorf("%w: claim code: fields out of range", ErrInvalid)
	}
	return c, nil
}

// ErrUndecided is returned for a giveaway whose winners are not all known:
// neither sold out nor closed.
var ErrUndecided = errors.New("the winners are not decided yet: every prize is won or the giveaway closes first")

// Placing is one winner's entry and rank.
type Placing struct {
	Entry uint64
	Rank  int
}

// Winners returns a giveaway's winners by user, read from the log with the
// tally's fold once they are decided (soldOut: a tally published the last
// prize won; or the giveaway is closed). Decided winners never change, so
// they are kept.
func (s *Service) Winners(ctx context.Context, poll schema.Poll, soldOut bool) (map[string]Placing, error) {
	if !poll.Giveaway() {
		return nil, fmt.Errorf("poll %s is not a giveaway", poll.ID)
	}
	if !soldOut && poll.State != schema.Closed {
		return nil, ErrUndecided
	}
	s.mu.Lock()
	w, ok := s.winners[poll.ID]
	s.mu.Unlock()
	if ok {
		return w, nil
	}
	v, err, _ := s.group.Do("winners:"+poll.ID, func() (any, error) {
		rc, err := tally.RecountFromLog(ctx, s.js, poll, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("read the winners of %s: %w", poll.ID, err)
		}
		if len(rc.Winners) < poll.Prizes && poll.State != schema.Closed {
			return nil, ErrUndecided // the log read is behind the tally's snapshot
		}
		w := make(map[string]Placing, len(rc.Winners))
		for i, x := range rc.Winners {
			w[x.User] = Placing{Entry: x.Seq, Rank: i + 1}
		}
		s.mu.Lock()
		if len(s.winners) >= maxTrees {
			clear(s.winners)
		}
		s.winners[poll.ID] = w
		s.mu.Unlock()
		return w, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(map[string]Placing), nil
}

// Claim signs the claim code of a winner.
func (s *Service) Claim(poll, user string, p Placing) (string, error) {
	if s.key == nil {
		return "", errors.New("no signing key")
	}
	return MintClaim(s.key, poll, user, p.Entry, p.Rank, time.Now())
}
