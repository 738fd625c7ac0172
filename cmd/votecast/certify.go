package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/schema"
)

type exportConfig struct {
	nats       natsConfig
	poll       string
	out, cert  string
	signingKey string
}

func exportCommand() *ffcli.Command {
	var c exportConfig
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.StringVar(&c.poll, "poll", "", "id of a closed poll (required)")
	fs.StringVar(&c.out, "out", "-", "file for the export (NDJSON, one line per message of the poll's log); -: standard output")
	fs.StringVar(&c.cert, "cert", "", "also write the poll's certificate (JSON) to this file")
	fs.StringVar(&c.signingKey, "signing-key", "", "key to sign with if the poll has no certificate yet (as serve's --signing-key); empty: signing.key in --data")
	fs.StringVar(&c.nats.dir, "data", "./data", "data directory of the embedded server (env VOTECAST_DATA)")
	c.nats.flags(fs, false)
	return &ffcli.Command{
		Name: "export", ShortUsage: "votecast export --poll ID [--out FILE] [--cert FILE]",
		ShortHelp: "write a closed poll's log (hashed user ids, no client keys) and its certificate, for votecast verify",
		FlagSet:   fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return export(ctx, c, os.Stdout, os.Stderr) },
	}
}

func export(ctx context.Context, c exportConfig, stdout, progress io.Writer) error {
	if !schema.ValidPollID(c.poll) {
		return fmt.Errorf("--poll %q is not a poll id", c.poll)
	}
	if c.signingKey == "" {
		c.signingKey = filepath.Join(c.nats.dir, "signing.key")
	}
	// Only a poll without a certificate needs the key: never make one.
	var key ed25519.PrivateKey
	if _, err := os.Stat(c.signingKey); err == nil {
		if key, err = certify.LoadKey(c.signingKey); err != nil {
			return err
		}
	}
	log, _ := newLogger("warn")
	link, err := c.nats.dialTool("export", log)
	if err != nil {
		return err
	}
	defer link.close(context.Background())
	poll, err := readPoll(ctx, link.js, c.poll)
	if err != nil {
		return err
	}
	svc, err := certify.NewService(ctx, link.js, key)
	if err != nil {
		return err
	}
	cert, err := svc.Certificate(ctx, poll)
	if err != nil {
		return err
	}
	t, p, err := svc.Tree(ctx, poll)
	if err != nil {
		return err
	}
	out := stdout
	if c.out != "-" {
		f, err := os.Create(c.out)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		out = f
	}
	if err := certify.WriteExport(out, t.Entries); err != nil {
		return err
	}
	if f, ok := out.(*os.File); ok && f != os.Stdout {
		if err := f.Close(); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if c.cert != "" {
		b, _ := json.MarshalIndent(cert, "", "  ")
		if err := os.WriteFile(c.cert, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--cert: %w", err)
		}
	}
	fmt.Fprintf(progress, "poll %s: %d lines (log sequences %d-%d), totals %v, %d counted votes, root %s\n",
		poll.ID, len(t.Entries), p.FirstSeq, p.LastSeq, p.Totals, p.Counted, p.Root)
	return nil
}

func verifyCommand() *ffcli.Command {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	key := fs.String("key", "", "the server's public key (base64, from /.well-known/votecast-key); when set, the certificate must be signed by it")
	return &ffcli.Command{
		Name: "verify", ShortUsage: "votecast verify [--key KEY] EXPORT CERT",
		ShortHelp: "check a poll's export against its certificate, offline: signature, Merkle root, totals; exit 1 on any difference",
		FlagSet:   fs,
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 2 {
				return errors.New("usage: votecast verify [--key KEY] EXPORT CERT")
			}
			return verify(args[0], args[1], *key, os.Stdout)
		},
	}
}

func verify(exportPath, certPath, key string, out io.Writer) error {
	b, err := readLimited(certPath, certify.MaxCertificateBytes)
	if err != nil {
		return err
	}
	cert, err := certify.DecodeCertificate(b)
	if err != nil {
		return fmt.Errorf("%s: %w", certPath, err)
	}
	f, err := os.Open(exportPath)
	if err != nil {
		return fmt.Errorf("open export: %w", err)
	}
	defer f.Close()
	p, err := certify.Verify(f, cert)
	if err == nil && key != "" && key != p.PublicKey {
		err = fmt.Errorf("%w: signed by key %s, not by --key %s", certify.ErrInvalid, p.PublicKey, key)
	}
	if err != nil {
		fmt.Fprintf(out, "NOT VERIFIED: %v\n", err)
		return exitCode(1)
	}
	fmt.Fprintf(out, "verified: poll %s %q\n  totals %v (%d counted votes, %d lines, log sequences %d-%d)\n  root %s\n  signed by %s at %s\n",
		p.Poll, p.Question, p.Totals, p.Counted, p.Entries, p.FirstSeq, p.LastSeq, p.Root, p.PublicKey, p.SignedAt.Format("2006-01-02 15:04:05Z07:00"))
	if p.Kind == schema.KindGiveaway {
		fmt.Fprintf(out, "  giveaway: %d winners of %d prizes, the last winning entry at sequence %d\n", p.Winners, p.Prizes, p.Cutoff)
	}
	return nil
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}
