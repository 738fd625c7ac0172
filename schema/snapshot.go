package schema

import (
	"encoding/json"
	"fmt"
)

// MaxSnapshotBytes bounds a snapshot message: 32 counts of 20 digits and
// the framing fit well under it.
const MaxSnapshotBytes = 2048

// EncodeSnapshot encodes a snapshot for the TALLY stream.
func EncodeSnapshot(s Snapshot) []byte {
	b, _ := json.Marshal(s) // plain struct always marshals
	return b
}

// DecodeSnapshot parses and checks a snapshot from the TALLY stream.
func DecodeSnapshot(b []byte) (Snapshot, error) {
	var s Snapshot
	if len(b) > MaxSnapshotBytes {
		return s, fmt.Errorf("%w: snapshot larger than %d bytes", ErrBadEvent, MaxSnapshotBytes)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: snapshot: %v", ErrBadEvent, err)
	}
	if !ValidPollID(s.Poll) || s.Shard < 0 || s.Shard >= MaxShards || len(s.Counts) > MaxOptions {
		return s, fmt.Errorf("%w: snapshot fields out of range", ErrBadEvent)
	}
	return s, nil
}
