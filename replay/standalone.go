package replay

// StandaloneType reports whether audit records of type t are events of
// their own, never part of a syscall's event: user-space messages
// (1100–1199), daemon messages (1200–1299) and the ranges from 2100 on
// (user-space AVCs, integrity, anomaly responses, ...). The kernel's own
// records, which group under one serial with a SYSCALL, are 1300–2099.
// The analyzer groups records by this rule, and an extract keeps them by
// it.
func StandaloneType(t uint16) bool {
	return (t >= 1100 && t <= 1299) || t >= 2100
}
