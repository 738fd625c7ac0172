package embedded

import (
	"encoding/binary"
	"errors"

	"github.com/votecast/votecast/tally"
)

var errCorrupt = errors.New("corrupt record")

// header value: last seq u64, closed u8, n u8, n counts as uvarint.
func encodeHeader(h tally.ShardHeader) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.LastSeq)
	closed := byte(0)
	if h.Closed {
		closed = 1
	}
	b = append(b, closed, byte(len(h.Counts)))
	for _, c := range h.Counts {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

func decodeHeader(poll string, shard int, v []byte) (tally.ShardHeader, error) {
	h := tally.ShardHeader{Poll: poll, Shard: shard}
	if len(v) < 10 {
		return h, errCorrupt
	}
	h.LastSeq = binary.BigEndian.Uint64(v)
	h.Closed = v[8] == 1
	n := int(v[9])
	v = v[10:]
	h.Counts = make([]int64, n)
	for i := range n {
		c, k := binary.Uvarint(v)
		if k <= 0 {
			return h, errCorrupt
		}
		h.Counts[i], v = int64(c), v[k:]
	}
	return h, nil
}

// Ballot values come in two versions; only v2 is written, both are read,
// so a store written before ballots kept their client keys opens as it is
// and each ballot turns into v2 the next time a flush writes it.
//
//	v1 (no version byte, no keys):
//	    last seq u64 BE | (option u8, count u16 BE)*
//	v2:
//	    0x02 | last seq u64 BE | n uvarint | n × (option u8, count u16 BE)
//	         | m uvarint | m × key hash u64 BE
//
// The version byte can be told from a v1 record because v1 starts with the
// big-endian stream sequence, whose first byte is 0 for every sequence
// below 2^56: a JetStream stream would need 2^56 messages (two thousand
// years at a million a second) to write a v1 record starting otherwise. A
// first byte that is neither 0 nor a known version is corruption, not a
// guess, so a later v3 is never misread as v1. The counts are explicit
// (v1 had the choices run to the end of the value) because a second list
// follows; key hashes are fixed-width because they are uniformly random,
// so a varint would only make them longer.
const (
	ballotV2 = 0x02

	choiceBytes = 3 // option u8, count u16
	keyBytes    = 8
)

func encodeBallot(r tally.BallotRecord) []byte {
	n := 1 + 8 + binary.MaxVarintLen64*2 + choiceBytes*len(r.Choices) + keyBytes*len(r.Keys)
	b := append(make([]byte, 0, n), ballotV2)
	b = binary.BigEndian.AppendUint64(b, r.LastSeq)
	b = binary.AppendUvarint(b, uint64(len(r.Choices)))
	for _, c := range r.Choices {
		b = append(b, c.Option)
		b = binary.BigEndian.AppendUint16(b, c.Count)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Keys)))
	for _, k := range r.Keys {
		b = binary.BigEndian.AppendUint64(b, k)
	}
	return b
}

func decodeBallot(user string, v []byte) (tally.BallotRecord, error) {
	if len(v) == 0 {
		return tally.BallotRecord{User: user}, errCorrupt
	}
	switch v[0] {
	case 0:
		return decodeBallotV1(user, v)
	case ballotV2:
		return decodeBallotV2(user, v[1:])
	default:
		return tally.BallotRecord{User: user}, errCorrupt
	}
}

func decodeBallotV1(user string, v []byte) (tally.BallotRecord, error) {
	r := tally.BallotRecord{User: user}
	if len(v) < 8 || (len(v)-8)%choiceBytes != 0 {
		return r, errCorrupt
	}
	r.LastSeq = binary.BigEndian.Uint64(v)
	r.Choices = decodeChoices(v[8:], (len(v)-8)/choiceBytes)
	return r, nil
}

func decodeBallotV2(user string, v []byte) (tally.BallotRecord, error) {
	r := tally.BallotRecord{User: user}
	if len(v) < 8 {
		return r, errCorrupt
	}
	r.LastSeq = binary.BigEndian.Uint64(v)
	v = v[8:]
	n, v, ok := listLen(v, choiceBytes)
	if !ok {
		return r, errCorrupt
	}
	r.Choices = decodeChoices(v, n)
	v = v[n*choiceBytes:]
	m, v, ok := listLen(v, keyBytes)
	if !ok || len(v) != m*keyBytes {
		return r, errCorrupt
	}
	if m > 0 {
		r.Keys = make([]uint64, m)
		for i := range r.Keys {
			r.Keys[i] = binary.BigEndian.Uint64(v[i*keyBytes:])
		}
	}
	return r, nil
}

// listLen reads a uvarint element count and checks that many elements of
// size bytes fit in what follows, before anything is allocated for them: a
// corrupt count must not become a huge allocation.
func listLen(v []byte, size int) (n int, rest []byte, ok bool) {
	c, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, v, false
	}
	rest = v[k:]
	if c > uint64(len(rest)/size) {
		return 0, v, false
	}
	return int(c), rest, true
}

// decodeChoices reads n choices from the front of v, which holds them.
// None is nil, as the fold keeps a ballot without choices.
func decodeChoices(v []byte, n int) []tally.Choice {
	if n == 0 {
		return nil
	}
	cs := make([]tally.Choice, n)
	for i := range cs {
		c := v[i*choiceBytes:]
		cs[i] = tally.Choice{Option: c[0], Count: binary.BigEndian.Uint16(c[1:3])}
	}
	return cs
}
