package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// message is one message of Centrifugo's JSON client protocol as a
// server sends it: a reply to a command (ID > 0, with Error or a result),
// or a push (ID 0). A ping is an empty object; parseMessage tells it apart.
type message struct {
	ID        uint32          `json:"id"`
	Error     *protoError     `json:"error"`
	Push      *push           `json:"push"`
	Connect   *connectResult  `json:"connect"`
	Subscribe json.RawMessage `json:"subscribe"`
}

type protoError struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

func (e *protoError) Error() string {
	return fmt.Sprintf("centrifugo error %d: %s", e.Code, e.Message)
}

type push struct {
	Channel string       `json:"channel"`
	Pub     *publication `json:"pub"`
}

type publication struct {
	Data json.RawMessage `json:"data"`
}

type connectResult struct {
	Client  string `json:"client"`
	Version string `json:"version"`
	Ping    uint32 `json:"ping"`
	Pong    bool   `json:"pong"`
}

// eachMessage calls fn with every message of a WebSocket frame: the
// server's writer batches what is queued for a connection into one frame,
// one JSON message per line.
func eachMessage(frame []byte, fn func(line []byte) error) error {
	for len(frame) > 0 {
		line, rest, _ := bytes.Cut(frame, []byte{'\n'})
		frame = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return nil
}

// parseMessage decodes one line. ping is true for the server's ping, an
// empty object, which a client that was told pong: true must echo.
func parseMessage(line []byte) (m message, ping bool, err error) {
	if bytes.Equal(bytes.TrimSpace(line), []byte("{}")) {
		return m, true, nil
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, false, fmt.Errorf("decode message %.80q: %w", line, err)
	}
	return m, false, nil
}

// probeData is what each probe publishes: the size and shape of a votecast
// totals frame, with seq telling the probes apart.
type probeData struct {
	Poll   string  `json:"poll"`
	Seq    int64   `json:"seq"`
	Totals []int64 `json:"totals"`
}

// probePayload is probe seq's publication data (~55 bytes).
func probePayload(seq int64) []byte {
	b, _ := json.Marshal(probeData{Poll: "bench", Seq: seq, Totals: []int64{2500, 2500, 2500, 2500}})
	return b
}

// probeSeq reads seq back out of a publication's data.
func probeSeq(data []byte) (int64, error) {
	var d probeData
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("decode publication %.80q: %w", data, err)
	}
	if d.Seq <= 0 {
		return 0, fmt.Errorf("publication %.80q has no probe number", data)
	}
	return d.Seq, nil
}

// command is a client command; connect is sent as id 1, subscribe as 2.
type command struct {
	ID        uint32            `json:"id"`
	Connect   *connectRequest   `json:"connect,omitempty"`
	Subscribe *subscribeRequest `json:"subscribe,omitempty"`
}

type connectRequest struct {
	Token string `json:"token"`
	Name  string `json:"name"`
}

type subscribeRequest struct {
	Channel string `json:"channel"`
}

func connectCommand(token string) []byte {
	b, _ := json.Marshal(command{ID: 1, Connect: &connectRequest{Token: token, Name: "votecast-peer"}})
	return b
}

func subscribeCommand(channel string) []byte {
	b, _ := json.Marshal(command{ID: 2, Subscribe: &subscribeRequest{Channel: channel}})
	return b
}
