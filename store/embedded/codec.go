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

// ballot value: last seq u64, then (option u8, count u16) per choice.
func encodeBallot(r tally.BallotRecord) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+3*len(r.Choices)), r.LastSeq)
	for _, c := range r.Choices {
		b = append(b, c.Option)
		b = binary.BigEndian.AppendUint16(b, c.Count)
	}
	return b
}

func decodeBallot(user string, v []byte) (tally.BallotRecord, error) {
	r := tally.BallotRecord{User: user}
	if len(v) < 8 || (len(v)-8)%3 != 0 {
		return r, errCorrupt
	}
	r.LastSeq = binary.BigEndian.Uint64(v)
	for v = v[8:]; len(v) > 0; v = v[3:] {
		r.Choices = append(r.Choices, tally.Choice{Option: v[0], Count: binary.BigEndian.Uint16(v[1:3])})
	}
	return r, nil
}
