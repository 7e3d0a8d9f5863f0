package testsvc

import "syscall"

// ChildAttr makes a server started by a test die with the test binary, even when a timeout panic skips the
// test's cleanups: a leaked server would hold its port and memory on a shared machine.
func ChildAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
