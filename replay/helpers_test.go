package replay

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir holds public audit logs (see its SOURCES.md). Tests read it in
// place and skip when it is absent; its files are never copied here.
const corpusDir = "../../shared/corpus"

func needCorpus(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpus %s is absent (%v): skipping the tests that read it", corpusDir, err)
	}
}

// corpusFile returns the path of a corpus file, skipping the test when the
// corpus is absent.
func corpusFile(t testing.TB, rel string) string {
	t.Helper()
	needCorpus(t)
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s is absent: %v", p, err)
	}
	return p
}

// corpusLine is one audit log line of the corpus.
type corpusLine struct {
	file string
	num  int
	text string
}

func (l corpusLine) String() string { return fmt.Sprintf("%s:%d", l.file, l.num) }

// readCorpusLines returns the audit log lines ("type=..." or "node=...",
// YAML indentation removed) of every corpus file, or nil when the corpus is
// absent.
func readCorpusLines() ([]corpusLine, error) {
	if _, err := os.Stat(corpusDir); err != nil {
		return nil, nil
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".log", ".txt", ".yaml":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []corpusLine
	for _, p := range files {
		lines, err := fileLines(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(corpusDir, p)
		for i, l := range lines {
			l = strings.TrimLeft(l, " \t")
			if strings.HasPrefix(l, "type=") || strings.HasPrefix(l, "node=") {
				out = append(out, corpusLine{file: rel, num: i + 1, text: l})
			}
		}
	}
	return out, nil
}

func fileLines(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

func mustCorpusLines(t testing.TB) []corpusLine {
	t.Helper()
	needCorpus(t)
	lines, err := readCorpusLines()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatal("no audit lines in the corpus")
	}
	return lines
}

var orders = []struct {
	name  string
	order binary.ByteOrder
}{{"little", binary.LittleEndian}, {"big", binary.BigEndian}}

// auditDatagram builds an audit datagram as the kernel sends it. On the
// unicast socket nlmsg_len counts the payload only; on the multicast group
// it counts the whole message.
func auditDatagram(order binary.ByteOrder, typ uint16, payload []byte, multicast bool) []byte {
	b := make([]byte, NetlinkHeaderSize+len(payload))
	n := uint32(len(payload))
	if multicast {
		n += NetlinkHeaderSize
	}
	order.PutUint32(b[0:], n)
	order.PutUint16(b[4:], typ)
	order.PutUint16(b[6:], 0)
	order.PutUint32(b[8:], 0) // events: seq 0
	order.PutUint32(b[12:], 0)
	copy(b[NetlinkHeaderSize:], payload)
	return b
}

// procDatagram builds a 76-byte proc connector datagram: nlmsghdr, cn_msg,
// proc_event with the union words given (zero-padded to 24 bytes).
func procDatagram(order binary.ByteOrder, what, cpu, seq uint32, ts uint64, union []byte) []byte {
	const total = procUnionOffset + 24
	b := make([]byte, total)
	order.PutUint32(b[0:], total)
	order.PutUint16(b[4:], NlmsgDone)
	order.PutUint32(b[8:], seq)
	cn := b[NetlinkHeaderSize:]
	order.PutUint32(cn[0:], cnIdxProc)
	order.PutUint32(cn[4:], cnValProc)
	order.PutUint32(cn[8:], seq)
	order.PutUint32(cn[12:], 0)
	order.PutUint16(cn[16:], 40)
	pe := b[procEventOffset:]
	order.PutUint32(pe[0:], what)
	order.PutUint32(pe[4:], cpu)
	order.PutUint64(pe[8:], ts)
	copy(b[procUnionOffset:], union)
	return b
}

// words encodes u32 values in order.
func words(order binary.ByteOrder, v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		order.PutUint32(b[4*i:], x)
	}
	return b
}

// kernelExecveBodies simulates the kernel's audit_log_execve_info
// (kernel/auditsc.c) and returns the bodies of the EXECVE records it writes
// for argv: the first starts with "argc=N", later ones are continuations.
// MAX_EXECVE_AUDIT_LEN is 7500 and the scratch buffer abuf is 96 bytes.
func kernelExecveBodies(argv []string) []string {
	const lenMax = 7500
	const abufSize = 96
	var recs []string
	var cur strings.Builder
	fmt.Fprintf(&cur, "argc=%d", len(argv))

	lenRem := int64(lenMax)
	var lenBuf, lenFull, lenAbuf int64
	requireData := true
	encode := false
	iter := 0
	arg := 0
	var buf []byte // from buf (the unwritten part) to the end of the data read
	p := 0         // read position in argv[arg]
	for {
		if lenFull == 0 {
			lenFull = int64(len(argv[arg]) - p) // strnlen_user(p) - 1
		}
		if requireData {
			avail := lenMax - lenBuf
			rest := argv[arg][p:]
			lenTmp := min(int64(len(rest)), avail)
			buf = append(buf, rest[:lenTmp]...)
			if lenTmp == avail {
				requireData = true
				encode = true
				lenFull *= 2
				p += int(lenTmp)
			} else {
				requireData = false
				if !encode {
					encode = needsHex(string(buf[:lenTmp]))
				}
				if lenFull < lenMax {
					if encode {
						lenFull = lenTmp * 2
					} else {
						lenFull = lenTmp
					}
				}
				p += int(lenTmp) + 1
			}
			lenBuf += lenTmp
			if encode {
				lenAbuf = lenBuf * 2
			} else {
				lenAbuf = lenBuf + 2
			}
		}

		if abufSize+8 > lenRem {
			lenRem = lenMax
			recs = append(recs, cur.String())
			cur.Reset()
		}
		var abuf string
		if requireData || iter > 0 || lenAbuf+abufSize > lenRem {
			if iter == 0 {
				abuf += fmt.Sprintf(" a%d_len=%d", arg, lenFull)
			}
			abuf += fmt.Sprintf(" a%d[%d]=", arg, iter)
			iter++
		} else {
			abuf = fmt.Sprintf(" a%d=", arg)
		}
		cur.WriteString(abuf)
		lenRem -= int64(len(abuf))
		lenTmp := lenBuf
		if encode {
			if lenAbuf > lenRem {
				lenTmp = lenRem / 2
			}
			cur.WriteString(hexUpper(buf[:lenTmp]))
			lenRem -= lenTmp * 2
			lenAbuf -= lenTmp * 2
		} else {
			if lenAbuf > lenRem {
				lenTmp = lenRem - 2
			}
			cur.WriteString(`"` + string(buf[:lenTmp]) + `"`)
			lenRem -= lenTmp + 2
			lenAbuf -= lenTmp
		}
		lenBuf -= lenTmp
		buf = buf[lenTmp:]

		if lenBuf == 0 && !requireData {
			arg++
			p = 0
			iter = 0
			lenFull = 0
			requireData = true
			encode = false
			buf = buf[:0]
		}
		if arg >= len(argv) {
			break
		}
	}
	return append(recs, cur.String())
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i] = digits[c>>4]
		out[2*i+1] = digits[c&0xf]
	}
	return string(out)
}
