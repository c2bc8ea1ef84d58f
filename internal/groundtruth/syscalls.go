package groundtruth

// The syscalls VerifyCapture needs, by audit arch and number. A small table
// of its own (checked against go-libaudit's in a Linux test), so that this
// package builds anywhere and shares no code with the analyzer it checks.
var syscallNames = map[uint32]map[int]string{
	0xc000003e: { // x86_64
		2: "open", 56: "clone", 57: "fork", 58: "vfork", 59: "execve", 60: "exit", 76: "truncate",
		77: "ftruncate", 82: "rename", 85: "creat", 87: "unlink", 231: "exit_group", 257: "openat",
		263: "unlinkat", 264: "renameat", 316: "renameat2", 322: "execveat", 435: "clone3", 437: "openat2",
	},
	0xc00000b7: { // aarch64
		35: "unlinkat", 38: "renameat", 45: "truncate", 46: "ftruncate", 56: "openat", 93: "exit",
		94: "exit_group", 220: "clone", 221: "execve", 276: "renameat2", 281: "execveat", 435: "clone3",
		437: "openat2",
	},
	0x40000003: { // i386
		1: "exit", 2: "fork", 5: "open", 8: "creat", 10: "unlink", 11: "execve", 38: "rename",
		92: "truncate", 93: "ftruncate", 120: "clone", 190: "vfork", 193: "truncate64",
		194: "ftruncate64", 252: "exit_group", 295: "openat", 301: "unlinkat", 302: "renameat",
		353: "renameat2", 358: "execveat", 435: "clone3", 437: "openat2",
	},
}

var archNames = map[uint32]string{0xc000003e: "x86_64", 0xc00000b7: "aarch64", 0x40000003: "i386"}
