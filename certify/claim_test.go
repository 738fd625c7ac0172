package certify

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimCode(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	code, err := MintClaim(key, "pollpollpo", "viewer-7", 42, 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyClaim(code, pub)
	if err != nil || c.Subject != "viewer-7" || c.Poll != "pollpollpo" || c.Entry != 42 || c.Rank != 3 {
		t.Fatalf("%+v %v", c, err)
	}
	forged, _ := MintClaim(otherKey, "pollpollpo", "viewer-8", 43, 1, time.Now())
	parts := strings.Split(code, ".")
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, Claim{Poll: "pollpollpo", Entry: 1, Rank: 1}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, bad := range map[string]string{
		"signed by another key":   forged,
		"another payload":         parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2],
		"no signature (alg none)": unsigned,
		"not a token":             "won",
	} {
		if _, err := VerifyClaim(bad, pub); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := VerifyClaim(forged, otherPub); err != nil {
		t.Fatalf("the other key's own claim: %v", err)
	}
}
