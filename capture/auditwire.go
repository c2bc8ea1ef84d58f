package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/elastic/go-libaudit/v2/rule"
)

// Layout of struct audit_rule_data (include/uapi/linux/audit.h), in host
// byte order: flags, action, field_count, mask[64], fields[64], values[64],
// fieldflags[64], buflen, then buf with the string values back to back.
const (
	ruleMaxFields   = 64
	ruleOffFields   = 12 + 64*4
	ruleOffValues   = ruleOffFields + ruleMaxFields*4
	ruleOffBufLen   = ruleOffValues + 2*ruleMaxFields*4
	ruleHeaderBytes = ruleOffBufLen + 4

	auditFilterKey     = 210  // AUDIT_FILTERKEY
	auditKeySep        = 0x01 // AUDIT_KEY_SEPARATOR
	auditFilterPrepend = 0x10 // AUDIT_FILTER_PREPEND, in the flags word
)

// ruleStringFields are the fields whose value is a length into buf.
var ruleStringFields = map[uint32]bool{
	13: true, 14: true, 15: true, 16: true, 17: true, // AUDIT_SUBJ_USER..AUDIT_SUBJ_CLR
	19: true, 20: true, 21: true, 22: true, 23: true, // AUDIT_OBJ_USER..AUDIT_OBJ_LEV_HIGH
	105: true, 107: true, 112: true, // AUDIT_WATCH, AUDIT_DIR, AUDIT_EXE
	auditFilterKey: true,
}

// ruleKeys returns the keys of a rule in wire format (several keys are
// stored as one string separated by AUDIT_KEY_SEPARATOR).
func ruleKeys(wf []byte) ([]string, error) {
	if len(wf) < ruleHeaderBytes {
		return nil, errors.New("rule too short")
	}
	ne := binary.NativeEndian
	count := ne.Uint32(wf[8:])
	bufLen := ne.Uint32(wf[ruleOffBufLen:])
	if count > ruleMaxFields || uint64(ruleHeaderBytes)+uint64(bufLen) > uint64(len(wf)) {
		return nil, errors.New("malformed rule")
	}
	buf := wf[ruleHeaderBytes : ruleHeaderBytes+int(bufLen)]
	var keys []string
	off := uint32(0)
	for i := uint32(0); i < count; i++ {
		field := ne.Uint32(wf[ruleOffFields+4*i:])
		if !ruleStringFields[field] {
			continue
		}
		n := ne.Uint32(wf[ruleOffValues+4*i:])
		if uint64(off)+uint64(n) > uint64(len(buf)) {
			return nil, errors.New("rule string overflows its buffer")
		}
		if field == auditFilterKey {
			keys = append(keys, strings.Split(string(buf[off:off+n]), string(rune(auditKeySep)))...)
		}
		off += n
	}
	return keys, nil
}

// ruleIsCtrace reports whether a rule in wire format carries RuleKey.
func ruleIsCtrace(wf []byte) bool {
	keys, err := ruleKeys(wf)
	return err == nil && slices.Contains(keys, RuleKey)
}

// ruleDescribe renders a rule in wire format as an auditctl-like line for
// messages. rule.ToCommandLine prints several keys as one `-F key=a\x01b`
// with the raw separator; they are shown as `-k a -k b` instead.
func ruleDescribe(wf []byte) string {
	keys, kerr := ruleKeys(wf)
	s, err := rule.ToCommandLine(wf, false)
	if err != nil {
		return fmt.Sprintf("(undecodable rule with keys %q: %v)", keys, err)
	}
	if kerr == nil && len(keys) > 0 {
		joined := strings.Join(keys, string(rune(auditKeySep)))
		var k []string
		for _, key := range keys {
			k = append(k, "-k", key)
		}
		ks := ruleJoinArgs(k)
		// Syscall rules print "-F key=", file watches "-k ".
		if strings.Contains(s, " -F key="+joined) {
			s = strings.Replace(s, " -F key="+joined, " "+ks, 1)
		} else {
			s = strings.Replace(s, " -k "+joined, " "+ks, 1)
		}
	}
	return s
}

// ruleStored returns a rule as the kernel stores, lists and deletes it: an
// add request's AUDIT_FILTER_PREPEND bit (-A) only says where to insert it.
func ruleStored(wf []byte) []byte {
	ne := binary.NativeEndian
	if len(wf) < 4 || ne.Uint32(wf)&auditFilterPrepend == 0 {
		return wf
	}
	out := bytes.Clone(wf)
	ne.PutUint32(out, ne.Uint32(out)&^auditFilterPrepend)
	return out
}
