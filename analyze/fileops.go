package analyze

// File operations (FileOp.Op): the words of the reports (SCHEMA.md).
const (
	OpCreate     = "create"
	OpOpenWrite  = "open_write"
	OpOpen       = "open" // intent unknown
	OpTruncate   = "truncate"
	OpRenameFrom = "rename_from"
	OpRenameTo   = "rename_to"
	OpUnlink     = "unlink"
	OpLink       = "link"
	OpSymlink    = "symlink"
	OpMknod      = "mknod"
	OpMkdir      = "mkdir"
	OpRmdir      = "rmdir"
	OpChmod      = "chmod"
	OpChown      = "chown"
)

// How an open was closed (FileOp.ClosedBy).
const (
	ClosedByClose = "close"
	ClosedByDup2  = "dup2"  // the number was reused by dup2/dup3
	ClosedByReuse = "reuse" // a later open returned the same number
	ClosedByExec  = "exec"  // close-on-exec
	ClosedByExit  = "exit"
)
