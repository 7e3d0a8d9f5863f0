//go:build !linux

package testsvc

import "syscall"

// ChildAttr is nil off Linux: there is no parent-death signal, so only the tests' cleanups stop servers.
func ChildAttr() *syscall.SysProcAttr { return nil }
