package auditlog

import (
	"encoding/binary"
	"strconv"

	"github.com/ctrace/ctrace/replay"
)

var le = binary.LittleEndian

// AppendLine appends an auditd RAW log line for a record of type typ whose
// payload is text ("audit(SEC.MSEC:SERIAL): fields"), with its newline:
//
//	type=NAME msg=TEXT
//
// NAME is replay.TypeName(typ): "UNKNOWN[1334]" for a type without a name,
// as auditd writes it. text is written as is; see SanitizeText.
func AppendLine(dst []byte, typ uint16, text string) []byte {
	dst = append(dst, "type="...)
	dst = append(dst, replay.TypeName(typ)...)
	dst = append(dst, " msg="...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// SanitizeText replaces the bytes that would break a log line (newline,
// carriage return, NUL and the ENRICHED separator 0x1d) with spaces, and
// reports whether it changed anything. The kernel hex-encodes such bytes in
// the strings it logs, so only a damaged or forged record holds them.
func SanitizeText(text string) (string, bool) {
	bad := false
	for i := 0; i < len(text); i++ {
		if isLineBreaker(text[i]) {
			bad = true
			break
		}
	}
	if !bad {
		return text, false
	}
	b := []byte(text)
	for i, c := range b {
		if isLineBreaker(c) {
			b[i] = ' '
		}
	}
	return string(b), true
}

func isLineBreaker(c byte) bool {
	return c == '\n' || c == '\r' || c == 0 || c == replay.EnrichedSeparator
}

// auditArch64 is __AUDIT_ARCH_64BIT: set in the arch of 64-bit ABIs.
const auditArch64 = 0x80000000

// machines maps AUDIT_ARCH_* values (the arch= field of SYSCALL records,
// linux/audit.h: ELF machine | 64-bit flag | little-endian flag) to uname -m.
var machines = map[uint32]string{
	0x40000003: "i386",
	0xc000003e: "x86_64",
	0x40000028: "arm",
	0x00000028: "armeb",
	0xc00000b7: "aarch64",
	0x800000b7: "aarch64_be",
	0x00000014: "ppc",
	0x80000015: "ppc64",
	0xc0000015: "ppc64le",
	0x00000016: "s390",
	0x80000016: "s390x",
	0x400000f3: "riscv32",
	0xc00000f3: "riscv64",
	0xc0000102: "loongarch64",
	0x00000008: "mips",
	0x40000008: "mipsel",
	0x80000008: "mips64",
	0xc0000008: "mips64el",
	0x00000002: "sparc",
	0x8000002b: "sparc64",
	0xc0000032: "ia64",
	0x0000000f: "parisc",
	0x8000000f: "parisc64",
	0xc0009026: "alpha",
	0x00000004: "m68k",
}

// MachineFromArch names the machine (as uname -m) of an arch= value written
// in hex as the kernel does ("c000003e" → "x86_64"). ok is false for a value
// that is not hex or not known.
func MachineFromArch(arch string) (machine string, is64 bool, ok bool) {
	v, err := strconv.ParseUint(arch, 16, 32)
	if err != nil {
		return "", false, false
	}
	m, ok := machines[uint32(v)]
	return m, v&auditArch64 != 0, ok
}
