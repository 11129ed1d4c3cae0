// Package faults holds the fault tests: the real binary is started as a
// child process, put under load and then crashed, signalled, starved of its
// database or contended, and what it acknowledged is checked afterwards.
// The package has no code of its own.
package faults
