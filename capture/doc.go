// Package capture is the recorder: the only package that talks to the
// kernel. It registers as the audit daemon (or reads the audit multicast
// group beside one), listens to the proc connector, snapshots /proc, loads
// and removes audit rules, saves and restores the kernel's audit settings,
// and runs the hot loop that copies raw datagrams into a capture file
// without parsing them.
package capture
