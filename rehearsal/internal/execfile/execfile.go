// Package execfile writes files that are executed soon after, by a program that also starts
// processes from other goroutines.
//
// On Linux a file cannot be executed while any process holds it open for writing (ETXTBSY,
// "text file busy"). A goroutine that forks while another has the file open hands the child a
// copy of the writing descriptor, which O_CLOEXEC closes only when the child execs: an exec of
// the new file in that window fails (golang/go#22315). The rehearsal writes hook scripts and
// runs them while its instances, its load and the other tests start processes.
package execfile

import (
	"os"
	"syscall"
)

// Write is os.WriteFile, with no process started anywhere in this program while the file is
// open: os/exec takes syscall.ForkLock for writing around each fork, so holding it for reading
// keeps forks out of the window.
func Write(name string, data []byte, perm os.FileMode) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	return os.WriteFile(name, data, perm)
}

// WriteIn is Write, for a file beneath root.
func WriteIn(root *os.Root, name string, data []byte, perm os.FileMode) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	return root.WriteFile(name, data, perm)
}
