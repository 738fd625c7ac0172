//go:build !unix

package preflight

// OpenFilesLimit is unknown here.
func OpenFilesLimit() uint64 { return 0 }

// MemoryBytes is unknown here.
func MemoryBytes() uint64 { return 0 }
