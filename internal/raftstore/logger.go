package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// raftLogger adapts slog to raft.Logger. Raft's info messages (elections,
// conf changes) go to Debug so that a busy node's log stays readable.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)              { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Debugf(f string, v ...any)   { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Info(v ...any)               { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(f string, v ...any)    { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Warning(v ...any)            { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(f string, v ...any) { r.l.Warn(fmt.Sprintf(f, v...)) }
func (r raftLogger) Error(v ...any)              { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(f string, v ...any)   { r.l.Error(fmt.Sprintf(f, v...)) }
func (r raftLogger) Fatal(v ...any)              { r.Panic(v...) }
func (r raftLogger) Fatalf(f string, v ...any)   { r.Panicf(f, v...) }
func (r raftLogger) Panic(v ...any)              { s := fmt.Sprint(v...); r.l.Error(s); panic(s) }
func (r raftLogger) Panicf(f string, v ...any)   { r.Panic(fmt.Sprintf(f, v...)) }

// pebbleLogger adapts slog to pebble's logger. Pebble calls Fatalf when
// a commit fails (a WAL write or fsync error): that ends the process like
// any failed synced write, through the store's diskFailed.
type pebbleLogger struct {
	l     *slog.Logger
	store *atomic.Pointer[Store] // holds the store once Open built it; nil in tests of the engine alone
}

func (p pebbleLogger) Infof(f string, v ...any)  { p.l.Debug(fmt.Sprintf(f, v...)) }
func (p pebbleLogger) Errorf(f string, v ...any) { p.l.Error(fmt.Sprintf(f, v...)) }
func (p pebbleLogger) Fatalf(f string, v ...any) {
	s := fmt.Sprintf(f, v...)
	p.l.Log(context.Background(), slog.LevelError, s)
	if p.store != nil {
		if st := p.store.Load(); st != nil {
			st.diskFailed("storage engine", errors.New(s))
		}
	}
	panic(s)
}
