//go:build !linux

package main

import "syscall"

func redisProcAttr() *syscall.SysProcAttr { return nil }
