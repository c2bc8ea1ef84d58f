package extract

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
)

// fuzzOptions derives extract options from a byte.
func fuzzOptions(mode uint8, pid uint16) Options {
	var o Options
	switch mode % 4 {
	case 0:
		o.Since = "0s"
	case 1:
		o.Command = true
	case 2:
		o.PIDs = []int{int(pid%4096) + 1}
	case 3:
		o.Since, o.Until = "1ms", "1s"
	}
	if mode&4 != 0 {
		o.Redact = []string{`[a-z]{2}`, `/`}
	}
	if mode&8 != 0 {
		o.RedactEnv = true
	}
	if mode&16 != 0 {
		o.HashPaths = true
	}
	if mode&32 != 0 {
		o.RedactHost = true
	}
	return o
}

// FuzzExtract runs extract, with and without redaction, on arbitrary
// captures: it never panics, and what it writes is a valid capture (no
// damage, kind extract) that the analyzer reads; without redaction every
// record it holds is a record of the input.
func FuzzExtract(f *testing.F) {
	f.Add(readScenario(f), uint8(1), uint16(0))
	f.Add(readScenario(f), uint8(2+4+8+16+32), uint16(101))
	f.Add(readScenario(f), uint8(0), uint16(0))
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	for i, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b, uint8(i), uint16(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, pid uint16) {
		o := fuzzOptions(mode, pid)
		var out bytes.Buffer
		res, err := Extract(bytes.NewReader(data), int64(len(data)), "fuzz.ctr", &out, o)
		if err != nil {
			return
		}
		r, err := format.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()), "out.ctr")
		if err != nil {
			t.Fatalf("the extract is not a capture: %v", err)
		}
		defer r.Close()
		if r.Header().Kind != "extract" || r.Header().OriginalLosses == nil {
			t.Fatalf("header %+v", r.Header())
		}
		in := map[string]int{}
		if !o.HashPaths && !o.RedactEnv && len(o.Redact) == 0 {
			ir, err := format.NewReader(bytes.NewReader(data), int64(len(data)), "in.ctr")
			if err != nil {
				t.Fatal(err)
			}
			for {
				rec, err := ir.Next()
				if err != nil {
					break
				}
				in[string(rune(rec.Source))+string(rec.Data)]++
			}
			ir.Close()
		}
		var n int64
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			if len(in) > 0 || (!o.HashPaths && !o.RedactEnv && len(o.Redact) == 0) {
				k := string(rune(rec.Source)) + string(rec.Data)
				if in[k] == 0 {
					t.Fatalf("record %q is not a record of the input", rec.Data)
				}
				in[k]--
			}
		}
		if len(r.Problems()) > 0 {
			t.Fatalf("the extract is damaged: %v", r.Problems())
		}
		var kept int64
		for _, k := range res.Kept {
			kept += k
		}
		if n != kept {
			t.Fatalf("%d records read back, %d written", n, kept)
		}
		r2, _ := format.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()), "out.ctr")
		defer r2.Close()
		if _, err := analyze.Build(r2); err != nil {
			t.Fatalf("the analyzer fails on the extract: %v", err)
		}
	})
}

func readScenario(f *testing.F) []byte {
	b, err := os.ReadFile(scenario().write(f))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
