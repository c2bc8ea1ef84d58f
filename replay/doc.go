// Package replay decodes what `ctrace record` captured, frame by frame,
// without a live kernel: raw audit netlink datagrams (DecodeAudit) and
// imported auditd log lines (ParseLogLine), proc connector datagrams
// (DecodeProc), and the contents of audit records.
//
// Frames are stored with their netlink header, in the recording host's byte
// order (format.Header.ByteOrder: pass binary.LittleEndian or
// binary.BigEndian). The datagram length delimits the payload: nlmsg_len
// counts only the payload on the unicast audit socket but the whole message
// on the multicast group.
//
// Record bodies are read with ParseFields, which keeps field order,
// duplicates, quoting and placeholders such as (null) and ?, unlike
// go-libaudit's map. Values the kernel hex-encodes are decoded with
// DecodeValue, which only decodes keys that hold untrusted strings
// (IsUntrustedString), since other unquoted values such as a SYSCALL
// record's a0=7ffd... are numbers. ExecveArgs rebuilds argv from EXECVE
// records, split arguments (a1_len=, a1[0]=...) included, and
// DecodeProctitle splits a PROCTITLE into its arguments.
//
// For speed, FieldScanner walks a body's fields without allocating (it is
// what ParseFields is built on), and ViewAudit decodes a datagram's event
// header in place.
//
// ProcSeqTracker and AuditSerialTracker estimate loss from the gaps in proc
// connector sequence numbers (per CPU) and audit serials (out of order).
// Summarize reads a capture for `ctrace info`; a Summarizer does the same
// for a reader that reads the records anyway (extract, analyze), in one
// pass: ObserveInfo takes what that reader decoded.
//
// The package is pure Go with no OS-specific imports: captures can be
// analysed anywhere. Record type names come from go-libaudit's auparse
// tables, copied into msgtypes.go by gen_msgtypes.go.
package replay
